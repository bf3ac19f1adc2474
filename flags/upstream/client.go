package upstream

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Defaults of ClientConfig.
const (
	DefaultAppName           = "brink"
	DefaultAuthHeader        = "Authorization"
	DefaultRequestTimeout    = 5 * time.Second
	DefaultSocketTimeout     = 5 * time.Second
	DefaultKeepAlive         = 15 * time.Second
	DefaultInterval          = 10 * time.Second
	DefaultStreamIdleTimeout = 90 * time.Second
	DefaultVersion           = "dev"
)

// ClientSpec is the client-specification version brink announces upstream
// in Unleash-Client-Spec, as Unleash Edge does.
const ClientSpec = "6.1.0"

// maxBody bounds what is read of an upstream answer.
const maxBody = 256 << 20

// ClientConfig configures a Client. The zero value of every field means
// its documented default.
type ClientConfig struct {
	// URL is the upstream base URL (an Unleash server or another edge)
	// without the /api suffix; a trailing slash is trimmed. Required.
	URL string
	// AppName is sent as UNLEASH-APPNAME and in registrations. Default
	// "brink".
	AppName string
	// InstanceID is sent as UNLEASH-INSTANCEID and in registrations.
	// Default: "brink-" and random hex, new for every Client.
	InstanceID string
	// ConnectionID is sent as UNLEASH-CONNECTION-ID. Default: a random
	// UUID, new for every Client.
	ConnectionID string
	// CustomHeaders are added to every upstream request, each in curl's
	// "Name: value" form (Unleash Edge's -H, --custom-client-headers).
	CustomHeaders []string
	// AuthHeader is the header that carries the token. Default
	// "Authorization".
	AuthHeader string
	// SkipTLSVerify turns off verification of the upstream certificate.
	SkipTLSVerify bool
	// ClientCertFile and ClientKeyFile are a PEM certificate chain (leaf
	// first) and its PEM PKCS#8 private key, for mutual TLS. Both or
	// neither.
	ClientCertFile string
	ClientKeyFile  string
	// PKCS12File is a PKCS#12 identity (.pfx, .p12) for mutual TLS, opened
	// with PKCS12Passphrase. Exclusive with ClientCertFile.
	PKCS12File       string
	PKCS12Passphrase string
	// UpstreamCAFile is a PEM file of extra certificates trusted for the
	// upstream, besides the system roots.
	UpstreamCAFile string
	// RequestTimeout bounds connecting (TCP and TLS). Default 5 s.
	RequestTimeout time.Duration
	// SocketTimeout bounds a whole request, from connecting to the end of
	// the answer; the event stream is bounded by StreamIdleTimeout instead.
	// Default 5 s.
	SocketTimeout time.Duration
	// KeepAlive is the TCP keep-alive period of upstream connections.
	// Default 15 s.
	KeepAlive time.Duration
	// Interval is the feature refresh interval announced in
	// Unleash-Interval and in registrations. Default 10 s.
	Interval time.Duration
	// StreamIdleTimeout ends an event stream on which nothing, not even a
	// keep-alive comment, arrived for that long. Default 90 s.
	StreamIdleTimeout time.Duration
	// Version is brink's version, sent as User-Agent brink/<Version> and
	// as sdkVersion brink:<Version>. Default "dev".
	Version string
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
}

// Client talks to the upstream API. It is safe for concurrent use.
type Client struct {
	cfg     ClientConfig
	base    string
	headers http.Header // custom headers, applied first
	http    *http.Client
	log     *slog.Logger
}

// NewClient fills the defaults of cfg, loads its certificate files and
// returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	cfg.URL = strings.TrimRight(strings.TrimSpace(cfg.URL), "/")
	if cfg.URL == "" {
		return nil, ErrNoURL
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, fmt.Errorf("upstream: URL %q is not http:// or https://", cfg.URL)
	}
	if cfg.AppName == "" {
		cfg.AppName = DefaultAppName
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = "brink-" + randomHex(8)
	}
	if cfg.ConnectionID == "" {
		cfg.ConnectionID = randomUUID()
	}
	if cfg.AuthHeader == "" {
		cfg.AuthHeader = DefaultAuthHeader
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.SocketTimeout <= 0 {
		cfg.SocketTimeout = DefaultSocketTimeout
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.StreamIdleTimeout <= 0 {
		cfg.StreamIdleTimeout = DefaultStreamIdleTimeout
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	headers, err := parseHeaders(cfg.CustomHeaders)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := tlsConfig(&cfg)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: cfg.RequestTimeout, KeepAlive: cfg.KeepAlive}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   cfg.RequestTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.SocketTimeout,
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		cfg:     cfg,
		base:    cfg.URL,
		headers: headers,
		http:    &http.Client{Transport: tr},
		log:     log,
	}, nil
}

// URL returns the upstream base URL, without a trailing slash.
func (c *Client) URL() string { return c.base }

// Config returns the configuration with its defaults filled in.
func (c *Client) Config() ClientConfig { return c.cfg }

// CloseIdleConnections closes the idle upstream connections.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

func parseHeaders(list []string) (http.Header, error) {
	h := make(http.Header, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		name, value, ok := strings.Cut(s, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
			return nil, fmt.Errorf("upstream: custom header %q is not in the \"Name: value\" form", s)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

func tlsConfig(cfg *ClientConfig) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.SkipTLSVerify} //nolint:gosec // an explicit option
	if cfg.UpstreamCAFile != "" {
		pem, err := os.ReadFile(cfg.UpstreamCAFile)
		if err != nil {
			return nil, fmt.Errorf("upstream: reading the upstream certificate file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream: the upstream certificate file %s holds no PEM certificate", cfg.UpstreamCAFile)
		}
		t.RootCAs = pool
	}
	switch {
	case cfg.PKCS12File != "" && (cfg.ClientCertFile != "" || cfg.ClientKeyFile != ""):
		return nil, errors.New("upstream: a PKCS#12 identity and a PKCS#8 certificate and key are exclusive")
	case cfg.PKCS12File != "":
		cert, err := loadPKCS12(cfg.PKCS12File, cfg.PKCS12Passphrase)
		if err != nil {
			return nil, err
		}
		t.Certificates = []tls.Certificate{cert}
	case cfg.ClientCertFile != "" || cfg.ClientKeyFile != "":
		if cfg.ClientCertFile == "" || cfg.ClientKeyFile == "" {
			return nil, errors.New("upstream: a PKCS#8 client certificate needs both the certificate file and the key file")
		}
		cert, err := tls.LoadX509KeyPair(cfg.ClientCertFile, cfg.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("upstream: loading the client certificate %s and key %s: %w", cfg.ClientCertFile, cfg.ClientKeyFile, err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

func loadPKCS12(path, pass string) (tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("upstream: reading the PKCS#12 identity: %w", err)
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, pass)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("upstream: decoding the PKCS#12 identity %s: %w", path, err)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newRequest builds a request to path with the identification headers,
// the custom headers and, when token is not empty, the token.
func (c *Client) newRequest(ctx context.Context, method, path, token string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("upstream: building the request: %w", err)
	}
	h := req.Header
	for k, v := range c.headers {
		h[k] = v
	}
	h.Set("User-Agent", "brink/"+c.cfg.Version)
	h.Set("UNLEASH-APPNAME", c.cfg.AppName)
	h.Set("UNLEASH-INSTANCEID", c.cfg.InstanceID)
	h.Set("UNLEASH-CONNECTION-ID", c.cfg.ConnectionID)
	h.Set("Unleash-Client-Spec", ClientSpec)
	h.Set("Unleash-Interval", strconv.FormatInt(c.cfg.Interval.Milliseconds(), 10))
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	if token != "" {
		h.Set(c.cfg.AuthHeader, token)
	}
	return req, nil
}

// do sends a request bounded by SocketTimeout and reads the whole answer.
func (c *Client) do(ctx context.Context, op, method, path, token string, body []byte, header map[string]string) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.SocketTimeout)
	defer cancel()
	req, err := c.newRequest(ctx, method, path, token, body)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("upstream: %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp, nil, fmt.Errorf("upstream: %s: reading the answer: %w", op, err)
	}
	return resp, data, nil
}
