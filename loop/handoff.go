package loop

import (
	"errors"
	"fmt"
	"os"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/sys/unix"
)

// ErrHandoff is returned by Conn.Handoff outside OnData, on an offline
// Conn, or on a connection already closing, detached or handed off.
var ErrHandoff = errors.New("loop: handoff only during OnData on an open connection")

var handoffs = metrics.NewCounter(`brink_loop_handoffs_total`)

// Handoff moves the connection's socket out of the loop, for a handler
// that wants to serve it with blocking I/O on Go's netpoller (crypto/tls).
// Call it during OnData; it returns a duplicate of the socket as an
// *os.File (close-on-exec, still connected), which the caller owns
// (net.FileConn turns it into a net.Conn; close the File afterwards).
//
// When OnData returns, the loop closes its own descriptor without
// shutdown(2), which leaves the connection open through the duplicate,
// calls OnClose, and keeps no state for the connection: no timeouts, no
// MaxConns slot, no metrics beyond brink_loop_handoffs_total. What the loop
// had received is not on the socket any more: the in slice of the current
// OnData holds it, and the caller must copy it to replay it (in is valid
// only during the call). Output written during the same OnData is
// discarded, and the returned action is ignored. On error nothing changes
// and the loop keeps the connection.
func (c *Conn) Handoff() (*os.File, error) {
	if c.offline || !c.inTraffic || c.state != stateOpen || c.detach || c.handoff || c.closed.Load() {
		return nil, ErrHandoff
	}
	fd, err := unix.FcntlInt(uintptr(c.gc.Fd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("loop: duplicating socket %d for a handoff: %w", c.gc.Fd(), os.NewSyscallError("fcntl", err))
	}
	c.handoff = true
	handoffs.Inc()
	return os.NewFile(uintptr(fd), "loop-handoff"), nil
}
