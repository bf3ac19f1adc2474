//go:build linux

package tcpsig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/brink-edge/brink/connsig"
)

// linuxLoopbackOptions is the option order of a Linux SYN with timestamps,
// SACK and window scaling on (the defaults): MSS, SACK-perm, TS, NOP, WS.
var linuxLoopbackOptions = []uint8{2, 4, 8, 1, 3}

func checkLinuxSYN(t *testing.T, s *connsig.Signal, ipVersion uint8) {
	t.Helper()
	if s.IPVersion != ipVersion || s.TTL != 64 {
		t.Errorf("IPVersion, TTL = %d, %d, want %d, 64", s.IPVersion, s.TTL, ipVersion)
	}
	if ipVersion == 4 && !s.DF {
		t.Errorf("DF = false, want true (Linux sets DF with PMTU discovery)")
	}
	if got := s.Options[:s.NumOptions]; !bytes.Equal(got, linuxLoopbackOptions) {
		t.Errorf("Options = %v, want %v", got, linuxLoopbackOptions)
	}
	if s.SYNMSS == 0 || s.WScale < 0 || !s.Timestamps || !s.SACKPermitted || s.Window == 0 {
		t.Errorf("SYNMSS %d, WScale %d, Timestamps %v, SACKPermitted %v, Window %d: want all set",
			s.SYNMSS, s.WScale, s.Timestamps, s.SACKPermitted, s.Window)
	}
	fp := string(s.AppendFingerprint(nil))
	if want := "b1_" + map[uint8]string{4: "4d", 6: "6"}[ipVersion] + "_64_2.4.8.1.3_"; !strings.HasPrefix(fp, want) {
		t.Errorf("fingerprint %q, want prefix %q", fp, want)
	}
	if !json.Valid(s.AppendJSON(nil)) {
		t.Errorf("AppendJSON is not valid JSON: %s", s.AppendJSON(nil))
	}
}

func checkEBPFTiming(t *testing.T, s *connsig.Signal) {
	t.Helper()
	if s.TimingSource != connsig.SourceEBPF {
		t.Fatalf("TimingSource = %v, want ebpf", s.TimingSource)
	}
	if !(s.SYNTime > 0 && s.SYNTime <= s.SYNACKTime && s.SYNACKTime < s.ACKTime) {
		t.Errorf("times SYN %d, SYN-ACK %d, ACK %d: want 0 < SYN <= SYN-ACK < ACK", s.SYNTime, s.SYNACKTime, s.ACKTime)
	}
	if s.HandshakeRTT != s.ACKTime-s.SYNACKTime || s.HandshakeRTT <= 0 {
		t.Errorf("HandshakeRTT = %d, want ACK-SYNACK = %d > 0", s.HandshakeRTT, s.ACKTime-s.SYNACKTime)
	}
	if s.RTT == 0 || s.MSS == 0 {
		t.Errorf("RTT %d µs, MSS %d: want both > 0", s.RTT, s.MSS)
	}
	t.Logf("SYN→SYN-ACK %d ns, handshake RTT %d ns, srtt %d µs, rttvar %d µs, min %d µs, mss %d, %s",
		s.SYNACKTime-s.SYNTime, s.HandshakeRTT, s.RTT, s.RTTVar, s.MinRTT, s.MSS, s.AppendJSON(nil))
}

func TestCaptureEBPF(t *testing.T) {
	c := openCapture(t)
	tests := []struct {
		name, network, listenAddr, dialNetwork string
		ipVersion                              uint8
	}{
		{"ipv4", "tcp4", "127.0.0.1:0", "tcp4", 4},
		{"ipv6", "tcp6", "[::1]:0", "tcp6", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := listen(t, tt.network, tt.listenAddr, func(fd int) error {
				if !c.instrumented(fd) {
					t.Errorf("listener fd %d created after Open is not instrumented", fd)
				}
				return c.PrepareListener(fd)
			})
			h := connect(t, ln, tt.dialNetwork, ln.Addr().String())
			var s connsig.Signal
			if err := c.Capture(h.serverFD, &s); err != nil {
				t.Fatalf("Capture: %v", err)
			}
			checkEBPFTiming(t, &s)
			if s.SYNSource != connsig.SourceEBPF || s.SYNCookie {
				t.Errorf("SYNSource %v, SYNCookie %v: want ebpf, false", s.SYNSource, s.SYNCookie)
			}
			checkLinuxSYN(t, &s, tt.ipVersion)
		})
	}
}

// TestCaptureEBPFDualStack: an AF_INET6 listener accepting IPv4 has an
// AF_INET request socket and an AF_INET6 (v4-mapped) child; the program's
// tuple must join them. In a private netns so that [::] binds nothing real.
func TestCaptureEBPFDualStack(t *testing.T) {
	c := openCapture(t)
	inNetns(t, func() {
		ln := listen(t, "tcp", "[::]:0", c.PrepareListener)
		_, port, _ := strings.Cut(ln.Addr().String(), "]:")
		h := connect(t, ln, "tcp4", "127.0.0.1:"+port)
		var s connsig.Signal
		if err := c.Capture(h.serverFD, &s); err != nil {
			t.Fatalf("Capture: %v", err)
		}
		checkEBPFTiming(t, &s)
		if s.SYNSource != connsig.SourceEBPF {
			t.Errorf("SYNSource = %v, want ebpf", s.SYNSource)
		}
		checkLinuxSYN(t, &s, 4)
	})
}

// TestCaptureEBPFSyncookies forces syncookies (tcp_syncookies=2, in a
// private netns): the kernel keeps no request socket, so TCP_SAVED_SYN has
// nothing, but the program still gets the SYN in the SYN-ACK callback.
func TestCaptureEBPFSyncookies(t *testing.T) {
	c := openCapture(t)
	inNetns(t, func() {
		if err := setSysctl("net/ipv4/tcp_syncookies", "2"); err != nil {
			t.Fatalf("forcing syncookies: %v", err)
		}
		ln := listen(t, "tcp4", "127.0.0.1:0", c.PrepareListener)

		h := connect(t, ln, "tcp4", ln.Addr().String())
		var s connsig.Signal
		if err := c.Capture(h.serverFD, &s); err != nil {
			t.Fatalf("Capture: %v", err)
		}
		if !s.SYNCookie {
			t.Errorf("SYNCookie = false, want true")
		}
		checkEBPFTiming(t, &s)
		if s.SYNTime != s.SYNACKTime {
			t.Errorf("SYNTime %d != SYNACKTime %d: with syncookies both come from the SYN-ACK callback", s.SYNTime, s.SYNACKTime)
		}
		if s.SYNSource != connsig.SourceEBPF {
			t.Errorf("SYNSource = %v, want ebpf", s.SYNSource)
		}
		checkLinuxSYN(t, &s, 4)

		// The fallback has no SYN here.
		h2 := connect(t, ln, "tcp4", ln.Addr().String())
		var f connsig.Signal
		if err := (Fallback{}).Capture(h2.serverFD, &f); err != nil {
			t.Fatalf("Fallback.Capture: %v", err)
		}
		if f.SYNSource != connsig.SourceNone || f.IPVersion != 0 {
			t.Errorf("fallback under syncookies: SYNSource %v, IPVersion %d; want none, 0", f.SYNSource, f.IPVersion)
		}
	})
}

// TestCaptureEBPFListenerBeforeOpen: a listener that called listen() before
// Open gets no SYN-ACK callback; PrepareListener sets TCP_SAVE_SYN so the
// program still reads the SYN from the child at PASSIVE_ESTABLISHED.
func TestCaptureEBPFListenerBeforeOpen(t *testing.T) {
	cg := testCgroup(t)
	foreign := foreignSockops(t, cg)
	ln := listen(t, "tcp4", "127.0.0.1:0", nil)
	foreign += foreignSockops(t, cg)
	c, err := Open(Config{CgroupPath: cg})
	skipIfNotSupported(t, err)
	defer c.Close()
	lfd := sysFD(t, ln)
	if c.instrumented(lfd) {
		t.Fatalf("listener created before Open reads as instrumented")
	}
	if err := c.PrepareListener(lfd); err != nil {
		t.Fatalf("PrepareListener: %v", err)
	}
	h := connect(t, ln, "tcp4", ln.Addr().String())
	var s connsig.Signal
	if err := c.Capture(h.serverFD, &s); err != nil {
		t.Fatalf("Capture: %v", err)
	}
	if s.TimingSource != connsig.SourceEBPF || s.SYNSource != connsig.SourceEBPF {
		t.Errorf("sources timing %v, SYN %v: want ebpf, ebpf", s.TimingSource, s.SYNSource)
	}
	switch {
	case s.SYNTime == 0 || s.ACKTime <= s.SYNTime:
		t.Errorf("SYN %d, ACK %d: want both, in order", s.SYNTime, s.ACKTime)
	case foreign > 0 && s.SYNACKTime != 0:
		// Another program (a shell-run brink on the root cgroup) enabled
		// the SYN-ACK callback on the listener when it called listen().
		t.Logf("SYN-ACK time %d: another sockops program applies to this cgroup and instrumented the listener", s.SYNACKTime)
	case s.SYNACKTime != 0 || s.HandshakeRTT != 0:
		t.Errorf("SYN-ACK %d, handshake RTT %d: want 0 (the listener predates the program)", s.SYNACKTime, s.HandshakeRTT)
	}
	checkLinuxSYN(t, &s, 4)
}

func TestCaptureEBPFNoRecordFallsBack(t *testing.T) {
	c := openCapture(t)
	// A socket outside the cgroup's view: a listener's own fd has a marker
	// record but no established one; Capture must fall back (and TCP_INFO
	// on a listener still answers).
	ln := listen(t, "tcp4", "127.0.0.1:0", nil)
	var s connsig.Signal
	if err := c.Capture(sysFD(t, ln), &s); err != nil {
		t.Fatalf("Capture(listener fd): %v", err)
	}
	if s.TimingSource != connsig.SourceFallback || s.SYNSource != connsig.SourceNone {
		t.Errorf("sources timing %v, SYN %v: want fallback, none", s.TimingSource, s.SYNSource)
	}
	if err := c.Capture(-1, &s); err == nil {
		t.Errorf("Capture(-1) = nil, want an error")
	}
}

func TestFallback(t *testing.T) {
	var fb Fallback
	ln := listen(t, "tcp4", "127.0.0.1:0", fb.PrepareListener)
	h := connect(t, ln, "tcp4", ln.Addr().String())
	var s connsig.Signal
	if err := fb.Capture(h.serverFD, &s); err != nil {
		t.Fatalf("Capture: %v", err)
	}
	if s.TimingSource != connsig.SourceFallback || s.SYNSource != connsig.SourceFallback {
		t.Errorf("sources timing %v, SYN %v: want fallback, fallback", s.TimingSource, s.SYNSource)
	}
	if s.SYNTime != 0 || s.SYNACKTime != 0 || s.ACKTime != 0 || s.HandshakeRTT != 0 {
		t.Errorf("the fallback set kernel times: %+v", s)
	}
	if s.RTT == 0 || s.MSS == 0 {
		t.Errorf("RTT %d, MSS %d: want > 0", s.RTT, s.MSS)
	}
	checkLinuxSYN(t, &s, 4)
	t.Logf("%s", s.AppendJSON(nil))

	// The kernel frees the saved SYN on the first read.
	var again connsig.Signal
	if err := fb.Capture(h.serverFD, &again); err != nil {
		t.Fatalf("second Capture: %v", err)
	}
	if again.SYNSource != connsig.SourceNone || again.TimingSource != connsig.SourceFallback {
		t.Errorf("second Capture: sources timing %v, SYN %v; want fallback, none", again.TimingSource, again.SYNSource)
	}

	if err := fb.Capture(-1, &s); err == nil {
		t.Errorf("Capture(-1) = nil, want EBADF")
	}
}

func TestAutoChoosesAMode(t *testing.T) {
	var c Capturer
	if os.Geteuid() == 0 {
		cg := testCgroup(t)
		c = Auto(Config{CgroupPath: cg})
	} else {
		c = Auto(Config{})
	}
	defer c.Close()
	want := connsig.SourceFallback
	if os.Geteuid() == 0 && probe() == nil {
		want = connsig.SourceEBPF
	}
	if requireEBPF && want != connsig.SourceEBPF {
		t.Fatalf("BRINK_REQUIRE_EBPF=1 but Auto chose %v", c.Mode())
	}
	if c.Mode() != want {
		t.Errorf("Auto chose %v, want %v", c.Mode(), want)
	}
	if got := ebpfEnabled.Get(); (got == 1) != (c.Mode() == connsig.SourceEBPF) {
		t.Errorf("brink_ebpf_enabled = %v with mode %v", got, c.Mode())
	}
}

// TestOpenUnprivileged: without root, Open fails with an error that Auto
// takes for "unavailable" (EPERM or ErrNotSupported), not a bug.
func TestOpenUnprivileged(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs only without root (dropping privileges would be irreversible for this process)")
	}
	c, err := Open(Config{})
	if err == nil {
		c.Close()
		t.Skip("this kernel lets unprivileged users load sockops programs")
	}
	if !isUnavailable(err) {
		t.Errorf("Open without root = %v, want an EPERM/ErrNotSupported error", err)
	}
}

func TestIsUnavailable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"not supported", fmt.Errorf("probing: %w", ebpf.ErrNotSupported), true},
		{"EPERM", fmt.Errorf("attaching: %w", unix.EPERM), true},
		{"load refused, no log", fmt.Errorf("loading: %w", &ebpf.VerifierError{Cause: unix.EPERM}), true},
		{"verifier rejection", fmt.Errorf("loading: %w", &ebpf.VerifierError{Cause: unix.EACCES, Log: []string{"R1 invalid mem access"}}), false},
		{"other", errors.New("no such cgroup"), false},
	}
	for _, tt := range tests {
		if got := isUnavailable(tt.err); got != tt.want {
			t.Errorf("isUnavailable(%s: %v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestOwnCgroup(t *testing.T) {
	mount := cgroup2Mount()
	if mount == "" {
		t.Skip("no cgroup2 mount")
	}
	dir := ownCgroup()
	if !strings.HasPrefix(dir, mount) {
		t.Errorf("ownCgroup() = %q, not under the cgroup2 mount %q", dir, mount)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Errorf("ownCgroup() = %q: %v", dir, err)
	}
}
