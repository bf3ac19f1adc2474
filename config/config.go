package config

import (
	"net"
	"strconv"
	"time"
)

// Config is brink's whole configuration: one value for every command. Load
// fills it from defaults, a YAML file, the environment and the command line;
// Default returns the defaults alone. Every field's YAML key is its tag; its
// environment forms are BRINK_<SECTION>__<KEY> and the unprefixed names in
// its env tag (the seeds' and Unleash Edge's names).
type Config struct {
	// Engine names the host brink serves.
	Engine Engine `yaml:"engine"`
	// Server holds the global options of the Unleash Edge command line:
	// the plain HTTP listener and the flag API around it.
	Server Server `yaml:"server"`
	// Log chooses the process log's level and format.
	Log Log `yaml:"log"`
	// TLS terminates TLS and routes connections by SNI.
	TLS TLS `yaml:"tls"`
	// Certs is the rstream CE spelling of the certificate pair.
	Certs Certs `yaml:"certs"`
	// HTTP is the optional plain listener that redirects to HTTPS.
	HTTP HTTP `yaml:"http"`
	// Metrics exposes brink's own metrics.
	Metrics Metrics `yaml:"metrics"`
	// Admin is the operator's listener (pprof).
	Admin Admin `yaml:"admin"`
	// Relay forwards requests and connection signals to an upstream (Octet).
	Relay Relay `yaml:"relay"`
	// Auth authenticates agents (tunnels).
	Auth Auth `yaml:"auth"`
	// Edge holds the options of `brink edge`.
	Edge Edge `yaml:"edge"`
	// Offline holds the options of `brink offline`.
	Offline Offline `yaml:"offline"`

	// meta records where each value came from; nil for Default().
	meta *meta
}

// Engine is the host brink answers for.
type Engine struct {
	// Host is the base host: it serves the API, the flag API and /health;
	// *.t.<host> is reserved for tunnels. Empty: every SNI that no route
	// claims is the base host.
	Host string `yaml:"host"`
	// LogLevel is rstream CE's spelling of log.level; it applies only when
	// log.level is left at its default.
	LogLevel string `yaml:"log_level"`
}

// Server holds the Unleash Edge global options. The plain HTTP listener
// (Interface:Port) serves the API unless TLS is enabled; see PlainAddr.
type Server struct {
	// Port is the HTTP listen port (default 3063).
	Port int `yaml:"port" env:"PORT"`
	// Interface is the address to listen on (default "::", dual-stack).
	Interface string `yaml:"interface" env:"INTERFACE"`
	// BasePath serves every route under this path prefix.
	BasePath string `yaml:"base_path" env:"BASE_PATH"`
	// CORSOrigin lists the allowed CORS origins (empty: any).
	CORSOrigin []string `yaml:"cors_origin" env:"CORS_ORIGIN"`
	// CORSAllowedHeaders lists the allowed CORS request headers (empty: any).
	CORSAllowedHeaders []string `yaml:"cors_allowed_headers" env:"CORS_ALLOWED_HEADERS"`
	// CORSExposedHeaders lists the headers exposed to browsers (empty: ETag and any).
	CORSExposedHeaders []string `yaml:"cors_exposed_headers" env:"CORS_EXPOSED_HEADERS"`
	// CORSMethods lists the allowed CORS methods (empty: any).
	CORSMethods []string `yaml:"cors_methods" env:"CORS_METHODS"`
	// CORSMaxAge is the preflight max age in seconds (default 172800).
	CORSMaxAge int `yaml:"cors_max_age" env:"CORS_MAX_AGE"`
	// AllowList lets only these CIDRs connect (empty: all).
	AllowList []string `yaml:"allow_list" env:"ALLOW_LIST"`
	// DenyList refuses these CIDRs.
	DenyList []string `yaml:"deny_list" env:"DENY_LIST"`
	// TokenHeader is the header carrying the SDK token (empty: Authorization).
	TokenHeader string `yaml:"token_header" env:"TOKEN_HEADER"`
	// EdgeAuthHeader is the header read from SDKs; TokenHeader wins.
	EdgeAuthHeader string `yaml:"edge_auth_header" env:"EDGE_AUTH_HEADER"`
	// TrustProxy takes the client address from Forwarded / X-Forwarded-For.
	TrustProxy bool `yaml:"trust_proxy" env:"TRUST_PROXY"`
	// ProxyTrustedServers, with TrustProxy, are the only proxies believed.
	ProxyTrustedServers []string `yaml:"proxy_trusted_servers" env:"PROXY_TRUSTED_SERVERS"`
	// InstanceID is reported upstream (empty: brink@<random>).
	InstanceID string `yaml:"instance_id" env:"INSTANCE_ID"`
	// AppName is reported upstream (default "unleash-edge").
	AppName string `yaml:"app_name" env:"APP_NAME"`
	// Workers is accepted for compatibility; brink sizes itself.
	Workers int `yaml:"workers" env:"WORKERS"`
	// DisableAllEndpoint removes /api/frontend/all and /api/proxy/all.
	DisableAllEndpoint bool `yaml:"disable_all_endpoint" env:"DISABLE_ALL_ENDPOINT"`
	// DisableMetricsEndpoint removes /internal-backstage/metrics.
	DisableMetricsEndpoint bool `yaml:"disable_metrics_endpoint" env:"DISABLE_METRICS_ENDPOINT"`
	// DisableMetricsBatchEndpoint removes /internal-backstage/metricsbatch.
	DisableMetricsBatchEndpoint bool `yaml:"disable_metrics_batch_endpoint" env:"DISABLE_METRICS_BATCH_ENDPOINT"`
	// DisableFeaturesEndpoint removes /internal-backstage/features.
	DisableFeaturesEndpoint bool `yaml:"disable_features_endpoint" env:"DISABLE_FEATURES_ENDPOINT"`
	// DisableTokensEndpoint removes /internal-backstage/tokens.
	DisableTokensEndpoint bool `yaml:"disable_tokens_endpoint" env:"DISABLE_TOKENS_ENDPOINT"`
	// DisableInstanceDataEndpoint removes /internal-backstage/instancedata.
	DisableInstanceDataEndpoint bool `yaml:"disable_instance_data_endpoint" env:"DISABLE_INSTANCE_DATA_ENDPOINT"`
	// Front is the HTTP front (--server): loop (default: the gnet event
	// loop) or fasthttp (fasthttp.Server, a goroutine per connection; used
	// instead of the default when a relay serves plain HTTP, see cmd/brink).
	Front string `yaml:"front" env:"BRINK_SERVER"`
	// Loops is the number of event loops with the loop front (0: one per CPU).
	Loops int `yaml:"loops" env:"BRINK_LOOPS"`
	// ReusePort sets SO_REUSEPORT (loop front).
	ReusePort bool `yaml:"reuseport" env:"BRINK_REUSEPORT"`
	// MaxConnections refuses connections beyond this many (loop front; 0: no limit).
	MaxConnections int `yaml:"max_connections" env:"BRINK_MAX_CONNECTIONS"`
	// SignalCapture is auto (default), ebpf, fallback or off.
	SignalCapture string `yaml:"signal_capture" env:"BRINK_SIGNAL_CAPTURE"`
	// SignalPath is where GET answers the caller's connection signal
	// (default "/signal"; "-" turns it off).
	SignalPath string `yaml:"signal_path" env:"BRINK_SIGNAL_PATH"`
}

// Log chooses the process log.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level" env:"LOG_LEVEL"`
	// Format is plain (default), json or pretty (an alias of plain).
	Format string `yaml:"format" env:"LOG_FORMAT"`
}

// TLS is the TLS listener. It is enabled by Enabled, or implied by a
// configured certificate (CertFile/KeyFile, Certs.Static, Certificates)
// unless Enabled is set to false explicitly.
type TLS struct {
	// Enabled turns TLS on (Unleash Edge --tls-enable). With TLS on, the
	// plain API listener is off; HTTP.ListenAddr may redirect instead.
	Enabled bool `yaml:"enabled" env:"TLS_ENABLE"`
	// ListenAddr is the TLS listen address. Empty: Interface:ServerPort when
	// TLS was enabled Unleash-style (--tls-*, TLS_*), else the API's own
	// server.interface:server.port (Octet style, EDGE_TLS_*: TLS is served
	// on PORT instead of plain HTTP). Load fills it whenever TLS is on.
	ListenAddr string `yaml:"listen_addr"`
	// ServerPort is Unleash Edge's --tls-server-port (default 3043), used
	// when TLS was enabled Unleash-style and ListenAddr is empty.
	ServerPort int `yaml:"server_port" env:"TLS_SERVER_PORT"`
	// CertFile is the default certificate chain (PEM): Octet's
	// EDGE_TLS_CERT_FILE, Unleash Edge's --tls-server-cert.
	CertFile string `yaml:"cert_file" env:"EDGE_TLS_CERT_FILE,TLS_SERVER_CERT"`
	// KeyFile is CertFile's private key (PEM).
	KeyFile string `yaml:"key_file" env:"EDGE_TLS_KEY_FILE,TLS_SERVER_KEY"`
	// Certificates are further pairs, picked by SNI.
	Certificates []CertPair `yaml:"certificates"`
	// DefaultService serves an SNI no route or certificate claims (api,
	// relay or a service name); empty: such handshakes get a TLS alert.
	DefaultService string `yaml:"default_service"`
	// Routes map hostnames (and ALPN) to services or passthrough backends.
	Routes []TLSRoute `yaml:"routes"`
	// Accept is how the TLS listener accepts (--tls-accept): netpoll (the
	// default: Go's net.Listener, one pooled goroutine per connection from
	// the ClientHello to the end) or loop (the gnet event loop peeks the
	// ClientHello, then hands the socket to handshake workers).
	Accept string `yaml:"accept"`
}

// CertPair is a certificate chain and its key, both PEM files. The pair is
// reloaded when either file's modification time changes.
type CertPair struct {
	// CertFile is the certificate chain (e.g. fullchain.pem).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the matching private key (e.g. privkey.pem).
	KeyFile string `yaml:"key_file"`
}

// TLSRoute sends connections whose SNI (and ALPN) match to a service, or
// passes their bytes through to a backend untouched.
type TLSRoute struct {
	// Host is the SNI to match, exact or "*.example.com".
	Host string `yaml:"host"`
	// ALPN, when set, must also match the client's offered protocol.
	ALPN string `yaml:"alpn"`
	// Service is api, relay or another service's name (exclusive with
	// Passthrough).
	Service string `yaml:"service"`
	// Passthrough is a host:port backend that receives the raw TLS bytes.
	Passthrough string `yaml:"passthrough"`
}

// Certs is rstream CE's certificate provider section.
type Certs struct {
	// Static is a certificate pair from files, as tls.cert_file/key_file.
	Static StaticCert `yaml:"static"`
}

// StaticCert is rstream CE's static certificate provider. Its pair fills
// tls.cert_file/key_file (setting both places differently is an error).
type StaticCert struct {
	// Enabled turns the provider on; files without it imply it unless it
	// is set to false explicitly.
	Enabled bool `yaml:"enabled"`
	// CertFile is the certificate chain (PEM).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the private key (PEM).
	KeyFile string `yaml:"key_file"`
}

// HTTP is an optional plain listener that answers 308 redirects to HTTPS.
type HTTP struct {
	// ListenAddr is its address (e.g. ":80"); empty: none. Needs TLS.
	ListenAddr string `yaml:"listen_addr"`
	// AcmePassthrough is a host:port backend that receives requests under
	// /.well-known/acme-challenge/ instead of a redirect; empty: redirected.
	AcmePassthrough string `yaml:"acme_passthrough"`
	// RedirectToHTTPS is Unleash Edge's --redirect-http-to-https: when
	// ListenAddr is empty, the plain API address redirects to HTTPS.
	RedirectToHTTPS bool `yaml:"redirect_to_https" env:"REDIRECT_HTTP_TO_HTTPS"`
}

// Metrics exposes brink's metrics.
type Metrics struct {
	// Prometheus is the /metrics listener.
	Prometheus Prometheus `yaml:"prometheus"`
}

// Prometheus is a listener that serves /metrics in the Prometheus format.
type Prometheus struct {
	// ListenAddr is its address, e.g. "127.0.0.1:9090"; empty: off. A bare
	// ":9090" means loopback. Beyond loopback BearerToken is required.
	ListenAddr string `yaml:"listen_addr"`
	// BearerToken, when set, must arrive as "Authorization: Bearer <token>".
	BearerToken string `yaml:"bearer_token" secret:"true"`
}

// Admin is the operator's listener.
type Admin struct {
	// ListenAddr is its address, e.g. "127.0.0.1:6060"; empty: off. A bare
	// ":6060" means loopback.
	ListenAddr string `yaml:"listen_addr"`
	// Pprof serves /debug/pprof/ on it (default false).
	Pprof bool `yaml:"pprof"`
}

// Relay forwards requests on its routes to an upstream and ships every
// connection's signal record to the upstream's ingest endpoint.
type Relay struct {
	// URL is the upstream base URL (Octet's OCTET_URL); empty: no relay.
	URL string `yaml:"url" env:"OCTET_URL" secret:"url"`
	// License is sent on every upstream request in LicenseHeader (LICENSE);
	// required with URL.
	License string `yaml:"license" env:"LICENSE" secret:"true"`
	// LicenseHeader is the header carrying License (default X-License-Key).
	LicenseHeader string `yaml:"license_header"`
	// CAFile is the CA that signs the upstream's certificate, for mutual
	// TLS (OCTET_CA_FILE). CAFile, ClientCertFile and ClientKeyFile are set
	// together or not at all.
	CAFile string `yaml:"ca_file" env:"OCTET_CA_FILE"`
	// ClientCertFile is brink's client certificate (EDGE_CLIENT_CERT_FILE).
	ClientCertFile string `yaml:"client_cert_file" env:"EDGE_CLIENT_CERT_FILE"`
	// ClientKeyFile is its key (EDGE_CLIENT_KEY_FILE).
	ClientKeyFile string `yaml:"client_key_file" env:"EDGE_CLIENT_KEY_FILE"`
	// Routes are the requests relayed: a hostname and/or a path prefix.
	Routes []RelayRoute `yaml:"routes"`
	// Timeout bounds one upstream request (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxBodyBytes bounds a relayed request body (default 4MiB).
	MaxBodyBytes Size `yaml:"max_body_bytes"`
	// IngestPath is the upstream path signal batches are posted to
	// (default /ingest/signals).
	IngestPath string `yaml:"ingest_path"`
	// SpoolDir holds batches while the upstream is down; empty: no disk
	// spool (records beyond memory are dropped and counted).
	SpoolDir string `yaml:"spool_dir"`
	// SpoolMaxBytes caps the spool; the oldest batches go first (default 64MiB).
	SpoolMaxBytes Size `yaml:"spool_max_bytes"`
	// BatchMaxRecords caps the records of one batch (default 512).
	BatchMaxRecords int `yaml:"batch_max_records"`
	// FlushInterval is the longest a record waits for its batch (default 1s).
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// RelayRoute matches requests to relay: Host and/or PathPrefix (both when
// both are set).
type RelayRoute struct {
	// Host is the request host to match; empty: any.
	Host string `yaml:"host"`
	// PathPrefix is the path prefix to match, starting with "/"; empty: any.
	PathPrefix string `yaml:"path_prefix"`
}

// Auth authenticates agents.
type Auth struct {
	// JWT is HS256 JWT authentication.
	JWT JWT `yaml:"jwt"`
}

// JWT verifies HS256 tokens signed with TokenJWTSecret.
type JWT struct {
	// Enabled turns JWT authentication on; it needs TokenJWTSecret.
	Enabled bool `yaml:"enabled"`
	// TokenJWTSecret is the HS256 signing secret.
	TokenJWTSecret string `yaml:"token_jwt_secret" secret:"true"`
}

// Edge holds the options of `brink edge` (Unleash Edge's EdgeArgs).
type Edge struct {
	// UpstreamURL is the Unleash (or brink/Edge) base URL, without /api.
	UpstreamURL string `yaml:"upstream_url" env:"UPSTREAM_URL" secret:"url"`
	// BackupFolder persists features and tokens there; excludes RedisURL.
	BackupFolder string `yaml:"backup_folder" env:"BACKUP_FOLDER"`
	// MetricsIntervalSeconds is how often SDK metrics go upstream (default 60).
	MetricsIntervalSeconds int `yaml:"metrics_interval_seconds" env:"METRICS_INTERVAL_SECONDS"`
	// FeaturesRefreshIntervalSeconds is the refresh period per token (default 10).
	FeaturesRefreshIntervalSeconds int `yaml:"features_refresh_interval_seconds" env:"FEATURES_REFRESH_INTERVAL_SECONDS"`
	// TokenRevalidationIntervalSeconds revalidates known tokens (default 3600).
	TokenRevalidationIntervalSeconds int `yaml:"token_revalidation_interval_seconds" env:"TOKEN_REVALIDATION_INTERVAL_SECONDS"`
	// Tokens are client tokens fetched at start-up (hot start).
	Tokens []string `yaml:"tokens" env:"TOKENS" secret:"token"`
	// PretrustedTokens are frontend tokens trusted without asking upstream.
	PretrustedTokens []string `yaml:"pretrusted_tokens" env:"PRETRUSTED_TOKENS" secret:"token"`
	// CustomClientHeaders ("Name: value") go on every upstream request.
	CustomClientHeaders []string `yaml:"custom_client_headers" env:"CUSTOM_CLIENT_HEADERS" secret:"header"`
	// SkipSSLVerification does not verify the upstream's certificate.
	SkipSSLVerification bool `yaml:"skip_ssl_verification" env:"SKIP_SSL_VERIFICATION"`
	// PKCS8ClientCertificateFile is a client chain (PEM) for upstream mTLS.
	PKCS8ClientCertificateFile string `yaml:"pkcs8_client_certificate_file" env:"PKCS8_CLIENT_CERTIFICATE_FILE"`
	// PKCS8ClientKeyFile is its PKCS#8 key (PEM).
	PKCS8ClientKeyFile string `yaml:"pkcs8_client_key_file" env:"PKCS8_CLIENT_KEY_FILE"`
	// PKCS12IdentityFile is a client identity (.pfx) for upstream mTLS.
	PKCS12IdentityFile string `yaml:"pkcs12_identity_file" env:"PKCS12_IDENTITY_FILE"`
	// PKCS12Passphrase is its passphrase.
	PKCS12Passphrase string `yaml:"pkcs12_passphrase" env:"PKCS12_PASSPHRASE" secret:"true"`
	// UpstreamCertificateFile is an extra CA (PEM) trusted for the upstream.
	UpstreamCertificateFile string `yaml:"upstream_certificate_file" env:"UPSTREAM_CERTIFICATE_FILE"`
	// UpstreamRequestTimeout is the upstream connect timeout in seconds (default 5).
	UpstreamRequestTimeout int `yaml:"upstream_request_timeout" env:"UPSTREAM_REQUEST_TIMEOUT"`
	// UpstreamSocketTimeout is the upstream read timeout in seconds (default 5).
	UpstreamSocketTimeout int `yaml:"upstream_socket_timeout" env:"UPSTREAM_SOCKET_TIMEOUT"`
	// ClientKeepaliveTimeout keeps upstream connections alive, in seconds (default 15).
	ClientKeepaliveTimeout int `yaml:"client_keepalive_timeout" env:"CLIENT_KEEPALIVE_TIMEOUT"`
	// UpstreamAuthHeader carries the token upstream (empty: Authorization,
	// or server.token_header).
	UpstreamAuthHeader string `yaml:"upstream_auth_header" env:"UPSTREAM_AUTH_HEADER"`
	// RedisURL are Redis URLs for persistence; several mean cluster nodes.
	RedisURL []string `yaml:"redis_url" env:"REDIS_URL" secret:"url"`
	// RedisMode is single (default) or cluster.
	RedisMode string `yaml:"redis_mode" env:"REDIS_MODE"`
	// RedisPassword is the Redis password.
	RedisPassword string `yaml:"redis_password" env:"REDIS_PASSWORD" secret:"true"`
	// RedisUsername is the Redis user name.
	RedisUsername string `yaml:"redis_username" env:"REDIS_USERNAME"`
	// RedisHost is the Redis host, instead of RedisURL.
	RedisHost string `yaml:"redis_host" env:"REDIS_HOST"`
	// RedisPort is the Redis port, with RedisHost.
	RedisPort int `yaml:"redis_port" env:"REDIS_PORT"`
	// RedisSecure uses TLS to Redis.
	RedisSecure bool `yaml:"redis_secure" env:"REDIS_SECURE"`
	// RedisScheme is tcp, tls, redis (default), rediss, redis-unix or unix.
	RedisScheme string `yaml:"redis_scheme" env:"REDIS_SCHEME"`
	// RedisReadConnectionTimeoutMilliseconds is the Redis read timeout (default 2000).
	RedisReadConnectionTimeoutMilliseconds int `yaml:"redis_read_connection_timeout_milliseconds" env:"REDIS_READ_CONNECTION_TIMEOUT_MILLISECONDS"`
	// RedisWriteConnectionTimeoutMilliseconds is the Redis write timeout (default 2000).
	RedisWriteConnectionTimeoutMilliseconds int `yaml:"redis_write_connection_timeout_milliseconds" env:"REDIS_WRITE_CONNECTION_TIMEOUT_MILLISECONDS"`
	// Streaming consumes the upstream's streaming endpoint when offered (default true).
	Streaming bool `yaml:"streaming" env:"STREAMING"`
}

// Offline holds the options of `brink offline`.
type Offline struct {
	// BootstrapFile is the features file served.
	BootstrapFile string `yaml:"bootstrap_file" env:"BOOTSTRAP_FILE"`
	// Tokens are accepted by both the client and the frontend API.
	Tokens []string `yaml:"tokens" env:"TOKENS" secret:"token"`
	// ClientTokens are accepted by the client (backend SDK) API.
	ClientTokens []string `yaml:"client_tokens" env:"CLIENT_TOKENS" secret:"token"`
	// FrontendTokens are accepted by the frontend API.
	FrontendTokens []string `yaml:"frontend_tokens" env:"FRONTEND_TOKENS" secret:"token"`
	// ReloadInterval re-reads BootstrapFile every N seconds (0: never).
	ReloadInterval int `yaml:"reload_interval" env:"RELOAD_INTERVAL"`
	// Demo serves the embedded demo flags with demo tokens.
	Demo bool `yaml:"demo"`
}

// Default returns the configuration with every default filled in.
func Default() *Config {
	return &Config{
		Server: Server{
			Port:          3063,
			Interface:     "::",
			CORSMaxAge:    172800,
			AppName:       "unleash-edge",
			Front:         "loop",
			SignalCapture: "auto",
			SignalPath:    "/signal",
		},
		Log: Log{Level: "info", Format: "plain"},
		TLS: TLS{ServerPort: 3043, Accept: "netpoll"},
		Relay: Relay{
			LicenseHeader:   "X-License-Key",
			Timeout:         30 * time.Second,
			MaxBodyBytes:    4 << 20,
			IngestPath:      "/ingest/signals",
			SpoolMaxBytes:   64 << 20,
			BatchMaxRecords: 512,
			FlushInterval:   time.Second,
		},
		Edge: Edge{
			MetricsIntervalSeconds:                  60,
			FeaturesRefreshIntervalSeconds:          10,
			TokenRevalidationIntervalSeconds:        3600,
			UpstreamRequestTimeout:                  5,
			UpstreamSocketTimeout:                   5,
			ClientKeepaliveTimeout:                  15,
			RedisMode:                               "single",
			RedisScheme:                             "redis",
			RedisReadConnectionTimeoutMilliseconds:  2000,
			RedisWriteConnectionTimeoutMilliseconds: 2000,
			Streaming:                               true,
		},
	}
}

// PlainAddr is the address of the plain HTTP listener that serves the API
// (server.interface:server.port), or "" when TLS is enabled: the API is
// then served over TLS on TLS.ListenAddr only, as Unleash Edge and the
// Octet edge do, and HTTP.ListenAddr (if set) answers redirects.
func (c *Config) PlainAddr() string {
	if c.TLS.Enabled {
		return ""
	}
	return net.JoinHostPort(c.Server.Interface, strconv.Itoa(c.Server.Port))
}
