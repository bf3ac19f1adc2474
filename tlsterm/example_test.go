package tlsterm_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/loop"
	"github.com/brink-edge/brink/tlsterm"
)

// Example wires TLS termination into an event loop the way cmd/brink
// does: the Server is the loop's Handler, the API is the service "api" of
// the engine host, and both drains run together.
func Example() {
	api := func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }
	ts, err := tlsterm.New(tlsterm.Config{
		Certs:      []tlsterm.CertPair{{CertFile: "/etc/brink/tls.crt", KeyFile: "/etc/brink/tls.key"}},
		EngineHost: "edge.example.com",
		Routes:     []tlsterm.Route{{Host: "legacy.example.com", Passthrough: "10.0.0.5:443"}},
		Services:   map[string]tlsterm.Service{tlsterm.ServiceAPI: tlsterm.NewHTTPService(api)},
		Logger:     slog.Default(),
	})
	if err != nil {
		return // a missing or broken certificate pair
	}
	drained := make(chan error, 1)
	ls, err := loop.New(loop.Config{
		Addr:              ":443",
		ReadHeaderTimeout: 10 * time.Second, // bounds the wait for the ClientHello
		OnShutdown: func() {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				drained <- ts.Shutdown(ctx)
			}()
		},
	}, ts)
	if err != nil {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if err := ls.Run(ctx); err == nil {
		<-drained
	}
}
