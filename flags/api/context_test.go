package api

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// describe renders a Context for comparison: the given fields in a fixed
// order, then the properties sorted.
func describe(c *flags.Context) string {
	var parts []string
	for _, f := range wellKnown {
		if v, ok := c.Value(f.name); ok {
			parts = append(parts, f.name+"="+v)
		}
	}
	var props []string
	for _, p := range c.Properties {
		props = append(props, "p."+p.Key+"="+p.Value)
	}
	slices.Sort(props)
	return strings.Join(append(parts, props...), " ")
}

func TestQueryContext(t *testing.T) {
	tests := []struct {
		query string
		want  string
		err   error
	}{
		{"", "", nil},
		{"userId=u1", "userId=u1", nil},
		{"userId=u1&sessionId=s&remoteAddress=1.2.3.4&environment=prod&appName=web&currentTime=2024-01-01T00:00:00Z",
			"userId=u1 sessionId=s remoteAddress=1.2.3.4 environment=prod appName=web currentTime=2024-01-01T00:00:00Z", nil},
		{"userId=", "userId=", nil},
		{"properties[companyId]=bricks", "p.companyId=bricks", nil},
		{"properties%5BcompanyId%5D=bricks", "p.companyId=bricks", nil},
		{"properties%5bcompanyId%5d=bricks", "p.companyId=bricks", nil},
		{"companyId=bricks", "p.companyId=bricks", nil},
		{"companyId=a+b&x=%C3%A9", "p.companyId=a b p.x=é", nil},
		{"properties[userId]=u2", "userId=u2", nil},
		{"properties[userId]=u2&userId=u1", "userId=u1 p.userId=u2", nil},
		{"properties[appName]=web&properties[other]=1", "appName=web p.other=1", nil},
		{"companyId=a&properties[companyId]=b", "p.companyId=b", nil},
		{"properties[a]=&flag", "p.a= p.flag=", nil},
		{"=x&&", "", nil},
		{"properties=x", "", errPropertiesNotMap},
		{"properties[a][b]=x", "", errNestedProperty},
		{"properties[]=x", "", errNestedProperty},
		{"properties[a=x", "", errNestedProperty},
		{"userId[0]=x", "", errNestedKey},
		{"foo[bar]=x", "", errNestedKey},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var args fasthttp.Args
			args.Parse(tt.query)
			var c flags.Context
			err := parseQueryContext(&c, &args)
			if err != tt.err {
				t.Fatalf("parseQueryContext(%q) error = %v, want %v", tt.query, err, tt.err)
			}
			if err == nil {
				if got := describe(&c); got != tt.want {
					t.Errorf("parseQueryContext(%q) = %q, want %q", tt.query, got, tt.want)
				}
			}
		})
	}
}

func TestPostContext(t *testing.T) {
	tests := []struct {
		body string
		want string
		err  error
	}{
		{"", "", nil},
		{"  ", "", nil},
		{`{}`, "", nil},
		{`{"userId":"u1","sessionId":"s"}`, "userId=u1 sessionId=s", nil},
		{`{"context":{"userId":"u1","properties":{"a":"b"}}}`, "userId=u1 p.a=b", nil},
		{`{"context":"notanobject","userId":"u1"}`, "userId=u1 p.context=notanobject", nil},
		{`{"userId":42,"properties":{"n":1.50,"b":true,"f":false,"z":null,"o":{"x":1},"l":[1]}}`, "userId=42 p.b=true p.f=false p.n=1.50", nil},
		{`{"companyId":"bricks","nested":{"a":1},"list":[1],"nothing":null}`, "p.companyId=bricks", nil},
		{`{"properties":{"userId":"u2"}}`, "userId=u2", nil},
		{`{"userId":"u1","properties":{"userId":"u2"}}`, "userId=u1 p.userId=u2", nil},
		{`{"companyId":"a","properties":{"companyId":"b"}}`, "p.companyId=b", nil},
		{`{"properties":"x"}`, "", nil},
		{`{"remoteAddress":"10.0.0.1","currentTime":"2024-01-01T00:00:00Z"}`, "remoteAddress=10.0.0.1 currentTime=2024-01-01T00:00:00Z", nil},
		{`{"userId":"\u00e9\n"}`, "userId=é\n", nil},
		{`[{"userId":"u1"}]`, "", errBodyNotObject},
		{`"x"`, "", errBodyNotObject},
		{`{"userId":`, "", errBodyJSON},
		{`nope`, "", errBodyJSON},
		{`{"a":1}{"b":2}`, "", errBodyJSON},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			var c flags.Context
			err := parsePostContext(&c, []byte(tt.body))
			if err != tt.err {
				t.Fatalf("parsePostContext(%s) error = %v, want %v", tt.body, err, tt.err)
			}
			if err == nil {
				if got := describe(&c); got != tt.want {
					t.Errorf("parsePostContext(%s) = %q, want %q", tt.body, got, tt.want)
				}
			}
		})
	}
}

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in, base, want string
		ok             bool
	}{
		{"/api/frontend", "", "/api/frontend", true},
		{"/api/frontend/", "", "/api/frontend", true},
		{"/api/frontend///", "", "/api/frontend", true},
		{"//api//frontend", "", "/api/frontend", true},
		{"/", "", "/", true},
		{"/edge/api/frontend", "/edge", "/api/frontend", true},
		{"/edge", "/edge", "/", true},
		{"/edge/", "/edge", "/", true},
		{"/edgeapi", "/edge", "", false},
		{"/api", "/edge", "", false},
	}
	for _, tt := range tests {
		st := acquireState()
		got, ok := st.normalizePath([]byte(tt.in), tt.base)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normalizePath(%q, %q) = %q, %v; want %q, %v", tt.in, tt.base, got, ok, tt.want, tt.ok)
		}
		releaseState(st)
	}
	for _, in := range []string{" /edge/ ", "edge", "/edge", "//edge//"} {
		if got := normalizeBase(in); got != "/edge" {
			t.Errorf("normalizeBase(%q) = %q", in, got)
		}
	}
	if got := normalizeBase("/"); got != "" {
		t.Errorf("normalizeBase(/) = %q", got)
	}
}

func TestChooseEncoding(t *testing.T) {
	tests := []struct {
		in   string
		want encoding
	}{
		{"", encIdentity},
		{"gzip", encGzip},
		{"GZIP", encGzip},
		{"x-gzip", encGzip},
		{"zstd", encZstd},
		{"gzip, zstd", encZstd},
		{"gzip;q=1.0, zstd;q=0.9", encGzip},
		{"zstd;q=0", encIdentity},
		{"br, deflate", encIdentity},
		{"*;q=0.1", encZstd},
		{"gzip;q=bad", encGzip},
		{"identity", encIdentity},
	}
	for _, tt := range tests {
		if got := chooseEncoding([]byte(tt.in)); got != tt.want {
			t.Errorf("chooseEncoding(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestNoneMatch(t *testing.T) {
	etag := []byte(`"0123456789abcdef"`)
	tests := []struct {
		header string
		want   bool
	}{
		{`"0123456789abcdef"`, true},
		{`W/"0123456789abcdef"`, true},
		{`"a", "0123456789abcdef"`, true},
		{`*`, true},
		{`0123456789abcdef`, true},
		{`"0123456789abcdee"`, false},
		{``, false},
		{`,,`, false},
	}
	for _, tt := range tests {
		if got := noneMatch([]byte(tt.header), etag); got != tt.want {
			t.Errorf("noneMatch(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func ExampleHandler() {
	store := new(flags.Store)
	cf, _ := flags.DecodeClientFeatures([]byte(`{"version":2,"features":[{"name":"demo","enabled":true,"strategies":[{"name":"default"}]}]}`))
	store.Publish("", flags.Compile(cf), "example")
	h, _ := New(Config{Store: store, Tokens: flags.OfflineTokens(nil, []string{"*:development.secret"})})

	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/api/frontend?userId=42")
	ctx.Request.Header.Set("Authorization", "*:development.secret")
	h.Handle(&ctx)
	fmt.Println(ctx.Response.StatusCode(), string(ctx.Response.Body()))
	// Output: 200 {"toggles":[{"name":"demo","enabled":true,"variant":{"name":"disabled","enabled":false,"payload":null},"impression_data":false,"impressionData":false}]}
}
