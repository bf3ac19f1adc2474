//go:build !linux

package tcpsig

import "github.com/brink-edge/brink/connsig"

// Fallback would capture with TCP_SAVED_SYN and TCP_INFO, which are
// Linux-only: here it returns ErrUnimplemented.
type Fallback struct{}

// Mode returns connsig.SourceFallback.
func (Fallback) Mode() connsig.Source { return connsig.SourceFallback }

// Close does nothing.
func (Fallback) Close() error { return nil }

// PrepareListener returns ErrUnimplemented.
func (Fallback) PrepareListener(int) error { return ErrUnimplemented }

// Capture resets s and returns ErrUnimplemented.
func (Fallback) Capture(_ int, s *connsig.Signal) error {
	s.Reset()
	observe(s)
	return ErrUnimplemented
}
