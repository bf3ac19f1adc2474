package tlsterm

import (
	"bytes"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/brink-edge/brink/loop"
)

func TestMetricsExposed(t *testing.T) { eachMode(t, testMetricsExposed) }

func testMetricsExposed(t *testing.T, m mode) {
	ts := m.start(t, baseConfig(), loop.Config{})
	if _, _, err := get(t, ts.addr, clientConfig("engine.test", 0x0303, "http/1.1"), ""); err != nil {
		t.Fatal(err)
	}
	_, _, _ = get(t, ts.addr, clientConfig("nobody.test", 0), "")
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, false)
	out := buf.String()
	for _, want := range []string{
		`brink_tls_handshakes_total{version="1.2",cipher="TLS_ECDHE_ECDSA_WITH_`,
		`brink_tls_routes_total{route="engine.test"}`,
		`brink_tls_routes_total{route="*.t.engine.test"}`,
		`brink_tls_hello_rejects_total{reason="unknown_sni"}`,
		`brink_tls_cert_reloads_total{result="ok"}`,
		`brink_tls_connections `,
		`brink_tls_handshake_duration_seconds_bucket`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
