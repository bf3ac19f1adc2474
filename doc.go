// Package brink holds repository-wide tests (dependency direction); the
// binary is built from ./cmd/brink and the code lives in the stage packages
// (flags, flags/api, and the transport stages as they land).
package brink
