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
// Forwarding (Config.Proxy): the HTTP/1.1 requests the Upstream matches
// are not handed to the handler but forwarded as bytes, the nginx way, on
// the loop itself. Once a request is complete (its body buffered and
// de-chunked by fasthttp's parser), Upstream.AppendRequestHead rebuilds
// its head (brink's relay: route target, Host, hop-by-hop and forged
// headers dropped, X-Forwarded-*, licence, signal) framed with
// Content-Length, and the request is written to an idle keep-alive
// upstream connection of the client's loop (loop.Out; one is dialled when
// none is idle, up to MaxConnsPerLoop). The client's connection is held
// (no loop timeouts; its pipelined requests wait) until the answer ends.
// The answer is framed by RespFrame as it arrives: its head is rewritten
// for the client (HTTP/1.1, hop-by-hop fields dropped, Connection: close
// when the client's connection ends) and its body bytes are copied to the
// client as received, chunked framing included, so an answer of any size
// streams through with no buffering beyond the loop's (the client's
// MaxBacklog bounds a slow reader). When the answer ends, the upstream
// connection goes back to the loop's idle list (unless it was
// close-delimited or said Connection: close) and the client's pipelined
// bytes are served. Failures: a dial error or a connection lost before any
// answer byte reached the client answers 502 (an idempotent request, GET,
// HEAD, OPTIONS, PUT or DELETE, is first sent once more on another
// connection: the usual cause is a kept-alive connection the upstream
// closed), no complete answer within Timeout answers 504, a malformed
// answer head 502; an answer broken half-way closes the client's
// connection, which cannot be told otherwise. Error answers come from
// Upstream.AppendErrorAnswer and every outcome is reported to
// Upstream.Done. HTTP/1.0 requests take the handler's path: their answers
// could not be chunked.
//
// ServeConn serves a connection that is not on the loop (in brink, a
// TLS-terminated one, on the goroutine tlsterm gives it) with the same
// Handler and Proxy: a blocking twin of the above (serveconn.go), whose
// forwarded requests share one pool of upstream connections
// (connpool.go; TLS ones after SetUpstreamTLS, for an https upstream)
// across ServeConn calls. It follows fasthttp.Server's timeouts (15 s to
// read a request, 90 s idle) and tells a tlsterm.Conn its HTTP state, so
// tlsterm's drain closes the connections that wait for a request at once.
// Between requests a kept-alive connection gives its buffers back to the
// pool after 250 ms and holds about 1 KiB.
//
// Allocation: a request whose handler allocates nothing is served without
// allocating. Concurrency: Server's methods are called by the loop, one
// at a time per connection; a Server serves any number of connections
// and loops. Buffer ownership: the request and its buffers are valid only
// during the handler call, as with fasthttp.Server.
package http1
