package tcpsig

import "github.com/brink-edge/brink/connsig"

// Capturer is what Auto returns: a *Capture or a Fallback.
type Capturer interface {
	connsig.Capturer
	connsig.ListenerPreparer
	// Mode is connsig.SourceEBPF or connsig.SourceFallback.
	Mode() connsig.Source
	// Close releases what the capturer holds (the eBPF program and maps).
	Close() error
}

var (
	_ Capturer = (*Capture)(nil)
	_ Capturer = Fallback{}
)

// Auto opens the eBPF capturer when the kernel and the privileges allow,
// else returns the Fallback, and logs the chosen mode once at Info (at Warn
// when eBPF was available but failed to load). Call it before creating the
// listening sockets (see Open). brink_ebpf_enabled says which was chosen.
func Auto(cfg Config) Capturer {
	log := cfg.logger()
	c, err := Open(cfg)
	if err == nil {
		log.Info("tcpsig: connection signals from eBPF (cgroup sockops)", "cgroup", c.Cgroup())
		return c
	}
	ebpfEnabled.Set(0)
	if isUnavailable(err) {
		log.Info("tcpsig: eBPF unavailable; connection signals from TCP_SAVED_SYN and TCP_INFO", "reason", err)
	} else {
		log.Warn("tcpsig: eBPF failed to load; connection signals from TCP_SAVED_SYN and TCP_INFO", "err", err)
	}
	return Fallback{}
}
