package config_test

import (
	"fmt"

	"github.com/brink-edge/brink/config"
)

// The Octet edge's environment, unchanged: a certificate pair serves TLS
// on PORT instead of plain HTTP, and the licence stays out of sight.
func ExampleLoad() {
	cfg, err := config.Load(config.Sources{
		File: "brink.yaml",
		Data: []byte("relay:\n  routes:\n    - path_prefix: /octet/\n"),
		Environ: []string{
			"PORT=443",
			"OCTET_URL=https://api.octet.example",
			"LICENSE=lic-123",
			"EDGE_TLS_CERT_FILE=/certs/fullchain.pem",
			"EDGE_TLS_KEY_FILE=/certs/privkey.pem",
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.TLS.ListenAddr, cfg.Origin("tls.listen_addr"))
	fmt.Printf("plain listener: %q\n", cfg.PlainAddr())
	fmt.Println(cfg.Relay.Routes[0].PathPrefix, cfg.Origin("relay.routes"))
	fmt.Println(cfg.Redacted().Relay.License, cfg.Origin("relay.license"))
	// Output:
	// [::]:443 implied by server.port (TLS instead of plain HTTP)
	// plain listener: ""
	// /octet/ yaml:brink.yaml:2
	// <redacted> env:LICENSE
}

func ExampleLoad_errors() {
	_, err := config.Load(config.Sources{
		File:    "brink.yaml",
		Data:    []byte("tls:\n  enabled: true\nmetrics:\n  prometheus:\n    listen_addr: 0.0.0.0:9090\n"),
		Environ: []string{"OCTET_CA_FILE=/ca.pem"},
	})
	fmt.Println(err)
	// Output:
	// brink.yaml:2: tls.cert_file: TLS is enabled but no certificate is configured: set tls.cert_file (EDGE_TLS_CERT_FILE, TLS_SERVER_CERT, BRINK_TLS__CERT_FILE) and tls.key_file (EDGE_TLS_KEY_FILE, TLS_SERVER_KEY, BRINK_TLS__KEY_FILE)
	// brink.yaml:5: metrics.prometheus.bearer_token: metrics listen on 0.0.0.0:9090, beyond loopback: set metrics.prometheus.bearer_token (BRINK_METRICS__PROMETHEUS__BEARER_TOKEN), or listen on 127.0.0.1
	// env:OCTET_CA_FILE: relay.ca_file: mutual TLS to the relay upstream is partly configured: also set relay.client_cert_file (EDGE_CLIENT_CERT_FILE, BRINK_RELAY__CLIENT_CERT_FILE) and relay.client_key_file (EDGE_CLIENT_KEY_FILE, BRINK_RELAY__CLIENT_KEY_FILE)
}
