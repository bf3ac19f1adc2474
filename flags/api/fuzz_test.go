package api

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// checkContext fails when a parsed context breaks an invariant: a
// well-known field left among the properties although it was not given at
// top level, or an empty property key.
func checkContext(t *testing.T, c *flags.Context, input string) {
	t.Helper()
	for _, p := range c.Properties {
		if p.Key == "" {
			t.Fatalf("%q: empty property key", input)
		}
		for _, f := range wellKnown {
			if p.Key == f.name && c.Has&f.bit == 0 {
				t.Fatalf("%q: property %s not promoted", input, p.Key)
			}
		}
	}
}

func FuzzQueryContext(f *testing.F) {
	for _, s := range []string{
		"userId=u1&properties[companyId]=bricks",
		"properties%5Ba%5D=b&sessionId=s",
		"properties=x", "properties[a][b]=c", "a[b]=c", "properties[userId]=u",
		"%zz=%&&==&properties[", "currentTime=2024-01-01T00:00:00Z&remoteAddress=::1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		var args fasthttp.Args
		args.Parse(q)
		var c flags.Context
		if err := parseQueryContext(&c, &args); err != nil {
			return
		}
		checkContext(t, &c, q)
	})
}

func FuzzPostContext(f *testing.F) {
	for _, s := range []string{
		`{"userId":"u1","properties":{"a":"b"}}`,
		`{"context":{"sessionId":1,"properties":{"userId":true}}}`,
		`{"a":null,"b":[1],"c":{"d":1},"properties":"x"}`,
		`[]`, `"x"`, `{`, ``, `{"":"x","properties":{"":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var c flags.Context
		if err := parsePostContext(&c, body); err != nil {
			return
		}
		checkContext(t, &c, string(body))
	})
}

// FuzzHandler feeds arbitrary paths, queries, tokens and bodies through
// the whole handler: it must never panic and always answer a status.
func FuzzHandler(f *testing.F) {
	h := newTestServer(f, Config{}).h
	f.Add("GET", "/api/frontend?userId=1", tokFront, "")
	f.Add("POST", "/api/frontend", tokFront, `{"context":{"userId":"1"}}`)
	f.Add("POST", "/api/client/metrics", tokClient, `{"appName":"a","bucket":{"start":1,"stop":2,"toggles":{"x":{"yes":1}}}}`)
	f.Add("POST", "/api/client/metrics/bulk", tokClient, `{"applications":[{"appName":"a","started":"x"}]}`)
	f.Add("POST", "/edge/validate", "", `{"tokens":[1]}`)
	f.Add("GET", "//api/client/features/%2e%2e", tokClient, "")
	f.Add("OPTIONS", "/x", "", "")
	f.Fuzz(func(t *testing.T, method, uri, token, body string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(uri)
		ctx.Request.Header.Set("Authorization", token)
		ctx.Request.SetBodyString(body)
		h.Handle(&ctx)
		if ctx.Response.StatusCode() < 100 {
			t.Fatalf("%s %q: status %d", method, uri, ctx.Response.StatusCode())
		}
	})
}
