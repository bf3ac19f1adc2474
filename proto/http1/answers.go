package http1

import "errors"

// Canned answers, written without fasthttp so that error paths allocate
// nothing. Each closes the connection.
var (
	answer100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")
	answer400 = cannedAnswer("400 Bad Request", "Error when parsing request")
	answer413 = cannedAnswer("413 Request Entity Too Large", "Request body too large")
	answer431 = cannedAnswer("431 Request Header Fields Too Large", "Too big request header")
	answer500 = cannedAnswer("500 Internal Server Error", "Unsupported answer")
)

func cannedAnswer(status, body string) []byte {
	return []byte("HTTP/1.1 " + status + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
		itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body)
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// Sentinel errors of the http1 package.
var (
	// ErrNoHandler is returned by New without a Handler.
	ErrNoHandler = errors.New("http1: no request handler")
	// ErrUnsupported is returned by the connection adapter's Read and
	// Write: handlers answer through the RequestCtx.
	ErrUnsupported = errors.New("http1: reading or writing the connection directly is not supported")
	// ErrProxyConfig is returned by New for a Config.Proxy without
	// Upstream or Addr.
	ErrProxyConfig = errors.New("http1: a proxy needs an Upstream and an address")
)
