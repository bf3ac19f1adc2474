//go:build !linux || !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package tcpsig

import "github.com/brink-edge/brink/connsig"

// Capture is the eBPF capturer; on this system (not Linux, or a big-endian
// one: only the little-endian object is shipped) Open always fails.
type Capture struct{}

// Open returns ErrUnimplemented on this system.
func Open(Config) (*Capture, error) { return nil, ErrUnimplemented }

// Cgroup returns "".
func (*Capture) Cgroup() string { return "" }

// Mode returns connsig.SourceEBPF.
func (*Capture) Mode() connsig.Source { return connsig.SourceEBPF }

// Capture returns ErrUnimplemented.
func (*Capture) Capture(int, *connsig.Signal) error { return ErrUnimplemented }

// PrepareListener returns ErrUnimplemented.
func (*Capture) PrepareListener(int) error { return ErrUnimplemented }

// Close does nothing.
func (*Capture) Close() error { return nil }

func isUnavailable(error) bool { return true }
