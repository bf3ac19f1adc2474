package api

import (
	"bytes"
	"net"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"
)

// peerAddr returns the connection's peer address, IPv4-mapped addresses
// unmapped; the zero Addr when unknown.
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	tcp, ok := ctx.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(tcp.IP)
	return a.Unmap()
}

// admitted applies the allow and deny lists to the peer.
func (h *Handler) admitted(peer netip.Addr) bool {
	if len(h.cfg.AllowList) > 0 && !inPrefixes(h.cfg.AllowList, peer) {
		return false
	}
	return !inPrefixes(h.cfg.DenyList, peer)
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the address of the client: the peer, or with
// TrustProxy the client named by the Forwarded header, then by
// X-Forwarded-For (Unleash Edge's client_ip rules), else the peer.
func (h *Handler) clientAddr(ctx *fasthttp.RequestCtx, peer netip.Addr) netip.Addr {
	if !h.cfg.TrustProxy {
		return peer
	}
	if a, ok := h.fromChain(ctx.Request.Header.Peek("Forwarded"), true, peer); ok {
		return a
	}
	if a, ok := h.fromChain(ctx.Request.Header.Peek("X-Forwarded-For"), false, peer); ok {
		return a
	}
	return peer
}

// fromChain picks the client from a forwarding chain (comma-separated
// elements, oldest first). Elements that hold no address are skipped. With
// no trusted proxies configured the leftmost address is the client;
// otherwise the peer and then the chain are walked from the right, skipping
// trusted addresses, and the first untrusted one is the client. It reports
// false when the chain holds no address or every hop is trusted.
func (h *Handler) fromChain(v []byte, forwarded bool, peer netip.Addr) (netip.Addr, bool) {
	if len(v) == 0 {
		return netip.Addr{}, false
	}
	trusted := h.cfg.ProxyTrustedServers
	if len(trusted) == 0 {
		for len(v) > 0 {
			var elem []byte
			if i := bytes.IndexByte(v, ','); i >= 0 {
				elem, v = v[:i], v[i+1:]
			} else {
				elem, v = v, nil
			}
			if a, ok := chainAddr(elem, forwarded); ok {
				return a, true
			}
		}
		return netip.Addr{}, false
	}
	if !peer.IsValid() {
		return netip.Addr{}, false
	}
	seen := false
	for rest := v; len(rest) > 0; {
		var elem []byte
		if i := bytes.IndexByte(rest, ','); i >= 0 {
			elem, rest = rest[:i], rest[i+1:]
		} else {
			elem, rest = rest, nil
		}
		if _, ok := chainAddr(elem, forwarded); ok {
			seen = true
			break
		}
	}
	if !seen {
		return netip.Addr{}, false
	}
	if !inPrefixes(trusted, peer) {
		return peer, true
	}
	for len(v) > 0 {
		var elem []byte
		if i := bytes.LastIndexByte(v, ','); i >= 0 {
			elem, v = v[i+1:], v[:i]
		} else {
			elem, v = v, nil
		}
		a, ok := chainAddr(elem, forwarded)
		if ok && !inPrefixes(trusted, a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// chainAddr parses one chain element: for Forwarded, the value of its
// "for" parameter; for X-Forwarded-For, the element itself. The value may
// be quoted, carry a port, or be a bracketed IPv6 address.
func chainAddr(elem []byte, forwarded bool) (netip.Addr, bool) {
	if forwarded {
		var val []byte
		found := false
		for len(elem) > 0 {
			var part []byte
			if i := bytes.IndexByte(elem, ';'); i >= 0 {
				part, elem = elem[:i], elem[i+1:]
			} else {
				part, elem = elem, nil
			}
			name, value, ok := bytes.Cut(bytes.TrimSpace(part), []byte("="))
			if ok && strings.EqualFold(b2s(name), "for") {
				val, found = value, true
				break
			}
		}
		if !found {
			return netip.Addr{}, false
		}
		elem = val
	}
	s := strings.Trim(strings.TrimSpace(b2s(elem)), `"`)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if i := strings.IndexByte(inner, ']'); i >= 0 {
			if a, err := netip.ParseAddr(inner[:i]); err == nil {
				return a.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}
