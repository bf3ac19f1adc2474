package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
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

func probe(o *probeOptions, kind, want string, stdout io.Writer) error {
	client := &http.Client{Timeout: 5 * time.Second}
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
	url := strings.TrimRight(o.EdgeURL, "/") + "/internal-backstage/" + kind
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
