package brink_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the layering of DEVELOPERS.md: domain
// packages never import transport packages; only cmd wires stages together.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/brink-edge/brink/"
	bad := map[string]map[string]string{
		"flags": {
			"github.com/valyala/fasthttp":  "the flag domain is transport-free; flags/api wraps it",
			"github.com/panjf2000/gnet/v2": "the flag domain never sees the event loop",
			mod + "loop":                   "domain packages never import transport packages",
			mod + "tlsterm":                "domain packages never import transport packages",
			mod + "flags/api":              "the domain must not depend on its HTTP wrapper",
			"testing":                      "do not use the testing package in production code",
		},
		"connsig": {
			mod + "loop":        "the signal type is shared data; it depends on no stage",
			mod + "ebpf/tcpsig": "the signal type is shared data; it depends on no stage",
			mod + "flags":       "the signal type is shared data; it depends on no stage",
			"testing":           "do not use the testing package in production code",
		},
		"ebpf/tcpsig": {
			mod + "loop":                  "ebpf exposes a lookup; cmd hands it to loop",
			mod + "proto/http1":           "capture knows nothing of HTTP",
			mod + "flags":                 "capture knows nothing of flags",
			"github.com/valyala/fasthttp": "capture knows nothing of HTTP",
			"testing":                     "do not use the testing package in production code",
		},
		"loop": {
			mod + "flags":                 "the loop knows nothing of flags",
			mod + "flags/api":             "the loop knows nothing of flags",
			mod + "ebpf/tcpsig":           "cmd hands the capturer to the loop",
			"github.com/valyala/fasthttp": "the loop is bytes-level; proto/http1 speaks HTTP",
			"testing":                     "do not use the testing package in production code",
		},
		"tlsterm": {
			mod + "flags":     "TLS termination knows nothing of flags; cmd registers the API as a service",
			mod + "flags/api": "TLS termination knows nothing of flags; cmd registers the API as a service",
			"testing":         "do not use the testing package in production code",
		},
		"proto/tlshello": {
			mod + "loop":                   "the ClientHello parser works on bytes; tlsterm feeds it",
			mod + "tlsterm":                "tlsterm uses the parser, not the other way round",
			mod + "flags":                  "a TLS parser knows nothing of flags",
			"github.com/panjf2000/gnet/v2": "the parser works on bytes, not connections",
			"github.com/valyala/fasthttp":  "the parser knows nothing of HTTP",
			"testing":                      "do not use the testing package in production code",
		},
		"relay": {
			mod + "flags":                  "the relay ships signals; it knows nothing of flags",
			mod + "flags/api":              "the relay ships signals; it knows nothing of flags",
			mod + "flags/upstream":         "the relay has its own upstream client",
			mod + "loop":                   "cmd hands the relay its requests and signals",
			mod + "tlsterm":                "cmd hands the relay its requests and signals",
			"github.com/panjf2000/gnet/v2": "the relay is a fasthttp handler; cmd plugs it into a server",
			"testing":                      "do not use the testing package in production code",
		},
		"admin": {
			"net/http/pprof":               "its init registers on http.DefaultServeMux; admin serves pprof on its private mux only",
			"github.com/valyala/fasthttp":  "the admin listener is net/http, apart from the request path",
			"github.com/panjf2000/gnet/v2": "the admin listener is net/http, apart from the request path",
			mod + "flags":                  "admin exports the metrics set; it knows no stage",
			mod + "flags/api":              "admin exports the metrics set; it knows no stage",
			mod + "loop":                   "admin exports the metrics set; it knows no stage",
			"testing":                      "do not use the testing package in production code",
		},
		"config": {
			mod + "loop":                   "the configuration is data; cmd hands its sections to the stages",
			mod + "tlsterm":                "the configuration is data; cmd hands its sections to the stages",
			mod + "flags":                  "the configuration is data; cmd hands its sections to the stages",
			"github.com/valyala/fasthttp":  "the configuration is data; cmd hands its sections to the stages",
			"github.com/panjf2000/gnet/v2": "the configuration is data; cmd hands its sections to the stages",
			"github.com/spf13/pflag":       "command-line flags live in cmd, which maps them onto keys",
			"testing":                      "do not use the testing package in production code",
		},
		"flags/api": {
			"github.com/panjf2000/gnet/v2": "handlers are transport-agnostic; cmd plugs them into a server",
			mod + "loop":                   "handlers are transport-agnostic; cmd plugs them into a server",
			"testing":                      "do not use the testing package in production code",
		},
	}
	for pkg, forbidden := range bad {
		if _, err := exec.Command("go", "list", "./"+pkg).Output(); err != nil {
			t.Errorf("package ./%s is gone: update this table", pkg)
			continue
		}
		out, err := exec.Command("go", "list", "-deps", "./"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps ./%s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, d := range deps {
			if why, ok := forbidden[d]; ok {
				t.Errorf("%s imports %s: %s", pkg, d, why)
			}
		}
	}
}
