package connsig

import "encoding/binary"

// TCP option kinds that ParseSYN decodes (RFC 9293, 7323, 2018).
const (
	OptEOL       = 0
	OptNOP       = 1
	OptMSS       = 2
	OptWScale    = 3
	OptSACKPerm  = 4
	OptTimestamp = 8
)

// maxIPv6Ext bounds the IPv6 extension headers ParseSYN walks.
const maxIPv6Ext = 8

// ParseSYN parses a SYN as TCP_SAVED_SYN returns it, from the network header
// on (IPv4 or IPv6, with IPv6 extension headers, then the TCP header and its
// options; no payload is needed), into s's SYN fields: IPVersion, TTL, DF,
// Window, WScale, SYNMSS, Timestamps, SACKPermitted, Options and NumOptions.
// It leaves the timing fields and the sources alone.
//
// It allocates nothing and reads only within pkt. On ErrBadOption the header
// fields and the options before the bad one are kept; on any other error the
// SYN fields are cleared. Option kinds past MaxOptions are parsed but not
// listed; EOL ends the list (it is listed once).
func ParseSYN(pkt []byte, s *Signal) error {
	s.clearSYN()
	if len(pkt) < 1 {
		return ErrShortPacket
	}
	var tcp []byte
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return ErrShortPacket
		}
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < 20 {
			return ErrHeaderLength
		}
		if len(pkt) < ihl {
			return ErrShortPacket
		}
		if pkt[9] != 6 {
			return ErrNotTCP
		}
		s.IPVersion, s.TTL, s.DF = 4, pkt[8], pkt[6]&0x40 != 0
		tcp = pkt[ihl:]
	case 6:
		if len(pkt) < 40 {
			return ErrShortPacket
		}
		next, off := pkt[6], 40
		for i := 0; next != 6; i++ {
			if i == maxIPv6Ext {
				return ErrNotTCP
			}
			var n int
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(pkt) < off+2 {
					return ErrShortPacket
				}
				n = (int(pkt[off+1]) + 1) * 8
			case 44: // fragment: a SYN in a non-first fragment has no TCP header here
				if len(pkt) < off+8 {
					return ErrShortPacket
				}
				if binary.BigEndian.Uint16(pkt[off+2:])&0xfff8 != 0 {
					return ErrNotTCP
				}
				n = 8
			default:
				return ErrNotTCP
			}
			if len(pkt) < off+n {
				return ErrShortPacket
			}
			next, off = pkt[off], off+n
		}
		s.IPVersion, s.TTL = 6, pkt[7]
		tcp = pkt[off:]
	default:
		return ErrIPVersion
	}

	if len(tcp) < 20 {
		s.clearSYN()
		return ErrShortPacket
	}
	doff := int(tcp[12]>>4) * 4
	if doff < 20 {
		s.clearSYN()
		return ErrHeaderLength
	}
	if len(tcp) < doff {
		s.clearSYN()
		return ErrShortPacket
	}
	if tcp[13]&0x02 == 0 {
		s.clearSYN()
		return ErrNotSYN
	}
	s.Window = binary.BigEndian.Uint16(tcp[14:])
	return s.parseOptions(tcp[20:doff])
}

// parseOptions lists the option kinds in opts and decodes the known ones.
func (s *Signal) parseOptions(opts []byte) error {
	for i := 0; i < len(opts); {
		kind := opts[i]
		if s.NumOptions < MaxOptions {
			s.Options[s.NumOptions] = kind
			s.NumOptions++
		}
		switch kind {
		case OptEOL:
			return nil
		case OptNOP:
			i++
			continue
		}
		if i+1 >= len(opts) {
			return ErrBadOption
		}
		n := int(opts[i+1])
		if n < 2 || i+n > len(opts) {
			return ErrBadOption
		}
		v := opts[i+2 : i+n]
		switch {
		case kind == OptMSS && n == 4:
			s.SYNMSS = binary.BigEndian.Uint16(v)
		case kind == OptWScale && n == 3:
			s.WScale = int8(min(v[0], 127))
		case kind == OptSACKPerm && n == 2:
			s.SACKPermitted = true
		case kind == OptTimestamp && n == 10:
			s.Timestamps = true
		}
		i += n
	}
	return nil
}

// clearSYN zeroes the SYN fields.
func (s *Signal) clearSYN() {
	s.IPVersion, s.TTL, s.DF, s.Window = 0, 0, false, 0
	s.WScale, s.SYNMSS, s.Timestamps, s.SACKPermitted = -1, 0, false, false
	s.Options, s.NumOptions = [MaxOptions]uint8{}, 0
}
