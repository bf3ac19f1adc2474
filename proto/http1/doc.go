// Package http1 serves HTTP/1.1 on the event loop: Server implements
// loop.Handler for a fasthttp.RequestHandler (in brink, flags/api's
// Handler.Handle), so the flag API runs on the loop goroutines with no
// goroutine per connection.
//
// Each OnData parses the complete requests at the front of the
// connection's bytes (pipelined requests are answered in order, in one
// write), through a fasthttp.RequestCtx and bufio buffers pooled per call,
// so an idle keep-alive connection holds only a few words. An incomplete
// request is left unconsumed until the rest arrives; the loop's
// ReadHeaderTimeout bounds how long that may take. Requests follow
// fasthttp.Server's rules: keep-alive by default in HTTP/1.1 and on
// request in HTTP/1.0, Connection: close, Expect: 100-continue (answered
// as soon as the headers are complete), 431 for headers over
// MaxHeaderBytes, 413 for bodies over MaxBodyBytes, 400 and close for a
// malformed request.
//
// RequestCtx.Conn returns a net.Conn-shaped adapter that also implements
// connsig.Carrier, so handlers read the connection's signal without
// allocating; RemoteAddr is the real peer. The adapter cannot be read or
// written: handlers answer through the RequestCtx. Hijack is not
// supported (a hijacked request closes the connection).
//
// Streamed answers (RequestCtx.SetBodyStreamWriter, as server-sent event
// streams use) are supported: the connection is detached from the loop and
// one goroutine writes the answer with the loop's WriteAsync, so only
// streaming connections cost a goroutine (plus the one fasthttp runs the
// stream writer on). A streamed answer is the last on its connection: it
// carries Connection: close, requests pipelined behind it are discarded,
// and the connection closes when the stream ends.
//
// A handler that may wait (in brink, a request whose token edge mode must
// validate upstream) must not run on the loop: every other connection of
// the loop would wait with it. Config.Offload names such requests (brink
// passes flags/api's Handler.MayBlock); each runs on a goroutine of its
// own, answered through WriteAsync like a stream, and its answer closes
// the connection, so the loop keeps serving meanwhile. Requests it does not
// name are served on the loop as above.
//
// Allocation: a request whose handler allocates nothing is served without
// allocating. Concurrency: Server's methods are called by the loop, one
// at a time per connection; a Server serves any number of connections
// and loops. Buffer ownership: the request and its buffers are valid only
// during the handler call, as with fasthttp.Server.
package http1
