// Package loop is brink's event loop: it accepts TCP connections on gnet v2
// engines (one epoll loop per core by default), captures each connection's
// connsig.Signal right after accept, and hands the connection's bytes to a
// Handler. It knows nothing of TLS, HTTP or flags: cmd plugs a protocol
// handler (proto/http1) into it.
//
// The loop owns connection limits (Config.MaxConns), the idle and
// read-header timeouts (swept by one ticker goroutine per Server that runs
// each sweep inside its loop, so connections need no goroutine or timer of
// their own), SO_REUSEPORT (Config.ReusePort: one listener and engine per
// loop, so that several processes can share a port), TCP_NODELAY, and the
// graceful drain of Run.
//
// Scheduling: each loop goroutine waits in a blocking epoll_wait that
// holds a P. With as many loops as Ps, the Go runtime's sysmon takes a
// waiting loop's P away (after 20 µs) and wakes a thread to run nothing,
// at almost every pause between requests. So while a Server runs, Run
// keeps GOMAXPROCS one above the loops of all running Servers (one loop
// and GOMAXPROCS 2 on one CPU): the spare P is idle, the loops keep
// theirs. Config.KeepGOMAXPROCS turns that off. See procs.go.
//
// Buffer ownership: the in slice given to Handler.OnData belongs to the
// loop and is valid only during the call; a handler that needs bytes later
// copies them, or leaves them unconsumed and sees them again at the start
// of the next call. Conn.Write appends to the connection's output buffer,
// which the loop sends with one write after OnData returns.
//
// Concurrency: a Conn's callbacks run on its loop's goroutine, one at a
// time; Conn.Write and the Handler callbacks must not be used from other
// goroutines. Conn.Close, Conn.Signal and the address accessors are safe
// anywhere. A handler that needs a goroutine for a long answer (an event
// stream) calls Conn.Detach during OnData and writes from then on with
// Conn.WriteAsync, which is safe from any one goroutine at a time. A
// handler that wants the socket itself (TLS termination on Go's netpoller)
// calls Conn.Handoff during OnData: it gets a duplicate of the socket and
// replays the bytes it was given; the loop closes its descriptor without
// shutdown(2) and forgets the connection.
//
// Outbound connections: a handler that forwards (proto/http1's proxy)
// calls Conn.Dial to connect to an upstream; the connection (Out) is
// registered on the same loop as the client's, so its events
// (OutHandler) run on the same goroutine, and the handler passes bytes
// between the two with Out.Write, Conn.Write and Conn.Flush, with no lock,
// channel or goroutine per request. While it waits for the upstream, the
// handler holds the client's Conn (Hold: no loop timeouts, not closed by
// the drain) and applies its own deadlines from LoopTicker.OnLoopTick;
// afterwards Unhold and Resume hand the client's pipelined bytes back to
// OnData. LoopLocal gives the handler one slot per loop for its pool of
// Outs. The dial itself runs on a goroutine (net.DialTimeout), then gnet
// registers a duplicate of the socket on the loop.
//
// Allocation: accepting a connection allocates only what gnet allocates
// (its connection and peer address); Conns are pooled. Handling data
// allocates nothing in the loop.
package loop
