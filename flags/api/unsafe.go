package api

import "unsafe"

// b2s returns a string view of b without copying. The string is valid only
// while b is neither modified nor reused: for request bytes, until the
// handler returns. Every unsafe conversion of the package is here.
func b2s(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
