package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/brink-edge/brink/config"
)

// setupProbe builds `brink health` and `brink ready`: exit 0 only when the
// endpoint answers 200 with {"status":"OK"} (health) or {"status":"READY"}
// (ready), as Unleash Edge's probes do.
func setupProbe(kind string) func(*flagSet, *globalOptions) func(io.Writer) error {
	return func(fs *flagSet, _ *globalOptions) func(io.Writer) error {
		var o probeOptions
		o.register(fs)
		return func(stdout io.Writer) error {
			want := "OK"
			if kind == "ready" {
				want = "READY"
			}
			return probe(&o, kind, want, stdout)
		}
	}
}

// localURL is the base URL of the brink that the environment environ
// configures (its YAML file, BRINK_ and unprefixed variables), as the server
// computes its own listeners: https on the TLS address when TLS is on, else
// http on the plain address; an unspecified host becomes 127.0.0.1.
func localURL(environ []string) (string, bool, error) {
	// The flag sections' unprefixed variables (REDIS_PORT=tcp://... from a
	// Kubernetes service) are not the listeners' and must not fail a probe.
	cfg, err := config.Load(config.Sources{Environ: environ, SkipEnv: []string{"edge", "offline"}})
	if err != nil {
		return "", false, fmt.Errorf("--local: reading the server's settings: %w", err)
	}
	addr, scheme := cfg.PlainAddr(), "http"
	if cfg.TLS.Enabled {
		addr, scheme = cfg.TLS.ListenAddr, "https"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, fmt.Errorf("--local: the server's address %q: %w", addr, err)
	}
	if ip, e := netip.ParseAddr(host); host == "" || (e == nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port), scheme == "https", nil
}

func probe(o *probeOptions, kind, want string, stdout io.Writer) error {
	client := &http.Client{Timeout: 5 * time.Second}
	base := o.EdgeURL
	if o.Local {
		u, tlsOn, err := localURL(os.Environ())
		if err != nil {
			return usageError{err}
		}
		base = u
		if tlsOn && o.CAFile == "" {
			// The server is this process's neighbour on the same host; its
			// certificate names the public host, not the loopback address.
			client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} //nolint:gosec // a local liveness probe
		}
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return fmt.Errorf("reading CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("no PEM certificate in %s", o.CAFile)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	url := strings.TrimRight(base, "/") + "/internal-backstage/" + kind
	resp, err := client.Get(url)
	if err != nil {
		return fmt.Errorf("%s check failed: %w", kind, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("%s check failed reading %s: %w", kind, url, err)
	}
	var status struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(body, &status)
	if resp.StatusCode != http.StatusOK || status.Status != want {
		return errors.New(kind + " check failed: " + url + " answered " + resp.Status + " " + strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s: %s\n", url, status.Status)
	return nil
}
