package loop

import "errors"

// Sentinel errors of the loop package.
var (
	// ErrClosed is returned by Conn.WriteAsync once the connection is closed.
	ErrClosed = errors.New("loop: connection closed")
	// ErrBacklog is returned by Conn.WriteAsync when the client has not
	// taken MaxBacklog bytes already written to it.
	ErrBacklog = errors.New("loop: client too slow, output backlog full")
	// ErrNotDetached is returned by Conn.WriteAsync on a connection that
	// was not detached.
	ErrNotDetached = errors.New("loop: connection not detached")
	// ErrNoHandler is returned by New without a Handler.
	ErrNoHandler = errors.New("loop: no handler")
	// ErrRunning is returned by a second call of Run.
	ErrRunning = errors.New("loop: server already run")
)
