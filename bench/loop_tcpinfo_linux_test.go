package bench

import (
	"golang.org/x/sys/unix"

	"github.com/brink-edge/brink/connsig"
)

// loopInfoCapturer reads TCP_INFO, one getsockopt as the fallback
// capturer does, as a stand-in for its cost until the real capturers are
// plugged in.
type loopInfoCapturer struct{}

func (loopInfoCapturer) Capture(fd int, s *connsig.Signal) error {
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return err
	}
	s.RTT, s.RTTVar, s.MinRTT, s.MSS = ti.Rtt, ti.Rttvar, ti.Min_rtt, ti.Snd_mss
	s.TimingSource = connsig.SourceFallback
	return nil
}

func loopExtraCapturers() []loopNamedCapturer {
	return []loopNamedCapturer{{"loop-capture-tcpinfo", loopInfoCapturer{}}}
}
