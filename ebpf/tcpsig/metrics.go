package tcpsig

import (
	"github.com/VictoriaMetrics/metrics"

	"github.com/brink-edge/brink/connsig"
)

// Metrics, registered in the default set at package level (cmd serves them
// with metrics.WritePrometheus).
var (
	// brink_ebpf_enabled is 1 while an eBPF Capture is open, else 0.
	ebpfEnabled = metrics.NewGauge(`brink_ebpf_enabled`, nil)

	// brink_signal_captures_total counts Capture calls by the better of the
	// two sources that filled the Signal (connsig.Signal.CaptureSource).
	capturesEBPF     = metrics.NewCounter(`brink_signal_captures_total{source="ebpf"}`)
	capturesFallback = metrics.NewCounter(`brink_signal_captures_total{source="fallback"}`)
	capturesNone     = metrics.NewCounter(`brink_signal_captures_total{source="none"}`)

	// brink_ebpf_lookups_total counts eBPF records found, by where: through
	// the address index (CaptureAddr, no system call), by socket cookie
	// (SO_COOKIE), or in sk_storage (bpf(2)).
	lookupsAddr    = metrics.NewCounter(`brink_ebpf_lookups_total{path="addr"}`)
	lookupsCookie  = metrics.NewCounter(`brink_ebpf_lookups_total{path="cookie"}`)
	lookupsStorage = metrics.NewCounter(`brink_ebpf_lookups_total{path="storage"}`)

	// brink_tcp_handshake_rtt_seconds: SYN-ACK sent to final ACK, eBPF only.
	handshakeRTT = metrics.NewHistogram(`brink_tcp_handshake_rtt_seconds`)
	// brink_tcp_rtt_seconds: the kernel's smoothed RTT at accept, both modes.
	tcpRTT = metrics.NewHistogram(`brink_tcp_rtt_seconds`)
)

// observe counts one capture and records its RTTs.
func observe(s *connsig.Signal) {
	switch s.CaptureSource() {
	case connsig.SourceEBPF:
		capturesEBPF.Inc()
	case connsig.SourceFallback:
		capturesFallback.Inc()
	default:
		capturesNone.Inc()
	}
	if s.HandshakeRTT > 0 {
		handshakeRTT.Update(float64(s.HandshakeRTT) / 1e9)
	}
	if s.RTT > 0 {
		tcpRTT.Update(float64(s.RTT) / 1e6)
	}
}
