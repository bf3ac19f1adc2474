//go:build !linux

package bench

func loopExtraCapturers() []loopNamedCapturer { return nil }
