package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/brink-edge/brink/config"
)

// envAnnotation is the pflag annotation key holding a flag's environment
// variable, so one table drives parsing, env fallback and help text.
const envAnnotation = "env"

// flagSet wraps a pflag.FlagSet with environment-variable fallbacks.
type flagSet struct {
	*pflag.FlagSet
}

func newFlagSet(name string) *flagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	return &flagSet{fs}
}

// env binds the flag name to the environment variable env.
func (fs *flagSet) env(name, env string) {
	f := fs.Lookup(name)
	if f == nil {
		panic("BUG: no flag " + name)
	}
	_ = fs.SetAnnotation(name, envAnnotation, []string{env})
	f.Usage += " [env: " + env + "]"
}

// applyEnv sets every flag not given on the command line from its
// environment variable, so the precedence is flags > env > defaults.
func (fs *flagSet) applyEnv(getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		names := f.Annotations[envAnnotation]
		if len(names) == 0 {
			return
		}
		v := getenv(names[0])
		if v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("invalid value %q for %s: %w", v, names[0], e)
		}
	})
	return err
}

// splitList splits comma-separated values and drops empty entries; repeated
// flags and csv both work.
func splitList(in []string) []string {
	var out []string
	for _, v := range in {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// globalOptions are the options Unleash Edge accepts before or after the
// subcommand.
type globalOptions struct {
	Port                int
	Interface           string
	BasePath            string
	CORSOrigin          []string
	CORSAllowedHeaders  []string
	CORSExposedHeaders  []string
	CORSMethods         []string
	CORSMaxAge          int
	AllowList           []string
	DenyList            []string
	TokenHeader         string
	EdgeAuthHeader      string
	TrustProxy          bool
	ProxyTrustedServers []string
	LogFormat           string
	LogLevel            string
	InstanceID          string
	AppName             string
	Workers             int
	DisableAll          bool
	DisableMetrics      bool
	DisableMetricsBatch bool
	DisableFeatures     bool
	DisableTokens       bool
	DisableInstanceData bool
	// Unleash Edge's TLS options; they set tls.* in the configuration.
	TLSEnable           bool
	TLSServerCert       string
	TLSServerKey        string
	TLSServerPort       int
	TLSAccept           string
	RedirectHTTPToHTTPS bool
	// ConfigFile and Sets feed the configuration itself.
	ConfigFile string
	Sets       []string
	serverOptions

	// cfg is the loaded configuration, set before the action of a command
	// that serves (edge, offline) or prints it (config print): every option
	// above, the command's own options and the sections that have no flag
	// (tls routes, relay, metrics, admin, auth). Nil for the probes and
	// version.
	cfg *config.Config
}

func (g *globalOptions) register(fs *flagSet) {
	fs.IntVarP(&g.Port, "port", "p", 3063, "HTTP listen port")
	fs.env("port", "PORT")
	fs.StringVarP(&g.Interface, "interface", "i", "::", "address to listen on (:: is dual-stack)")
	fs.env("interface", "INTERFACE")
	fs.StringVar(&g.BasePath, "base-path", "", "serve every route under this path prefix")
	fs.env("base-path", "BASE_PATH")
	fs.StringSliceVar(&g.CORSOrigin, "cors-origin", nil, "allowed CORS origins, comma-separated (default any)")
	fs.env("cors-origin", "CORS_ORIGIN")
	fs.StringSliceVar(&g.CORSAllowedHeaders, "cors-allowed-headers", nil, "allowed CORS request headers (default any)")
	fs.env("cors-allowed-headers", "CORS_ALLOWED_HEADERS")
	fs.StringSliceVar(&g.CORSExposedHeaders, "cors-exposed-headers", nil, "CORS headers exposed to browsers (default ETag and any)")
	fs.env("cors-exposed-headers", "CORS_EXPOSED_HEADERS")
	fs.StringSliceVar(&g.CORSMethods, "cors-methods", nil, "allowed CORS methods (default any)")
	fs.env("cors-methods", "CORS_METHODS")
	fs.IntVar(&g.CORSMaxAge, "cors-max-age", 172800, "CORS preflight max age in seconds")
	fs.env("cors-max-age", "CORS_MAX_AGE")
	fs.StringSliceVar(&g.AllowList, "allow-list", nil, "only these CIDRs may connect, comma-separated")
	fs.env("allow-list", "ALLOW_LIST")
	fs.StringSliceVar(&g.DenyList, "deny-list", nil, "these CIDRs are refused, comma-separated")
	fs.env("deny-list", "DENY_LIST")
	fs.StringVar(&g.TokenHeader, "token-header", "", "header carrying the SDK token (default Authorization)")
	fs.env("token-header", "TOKEN_HEADER")
	fs.StringVar(&g.EdgeAuthHeader, "edge-auth-header", "", "header read from SDKs; --token-header takes precedence")
	fs.env("edge-auth-header", "EDGE_AUTH_HEADER")
	fs.BoolVar(&g.TrustProxy, "trust-proxy", false, "take remoteAddress from Forwarded / X-Forwarded-For")
	fs.env("trust-proxy", "TRUST_PROXY")
	fs.StringSliceVar(&g.ProxyTrustedServers, "proxy-trusted-servers", nil, "with --trust-proxy, only these proxy IPs/CIDRs are believed")
	fs.env("proxy-trusted-servers", "PROXY_TRUSTED_SERVERS")
	fs.StringVarP(&g.LogFormat, "log-format", "l", "plain", "log format: plain, json or pretty")
	fs.env("log-format", "LOG_FORMAT")
	fs.StringVar(&g.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.env("log-level", "LOG_LEVEL")
	fs.StringVar(&g.InstanceID, "instance-id", "", "instance id reported upstream (default brink@<random>)")
	fs.env("instance-id", "INSTANCE_ID")
	fs.StringVarP(&g.AppName, "app-name", "a", "unleash-edge", "app name reported upstream")
	fs.env("app-name", "APP_NAME")
	fs.IntVarP(&g.Workers, "workers", "w", 0, "accepted for compatibility; brink sizes itself")
	fs.env("workers", "WORKERS")
	fs.BoolVar(&g.DisableAll, "disable-all-endpoint", false, "remove /api/frontend/all and /api/proxy/all")
	fs.env("disable-all-endpoint", "DISABLE_ALL_ENDPOINT")
	fs.BoolVar(&g.DisableMetrics, "disable-metrics-endpoint", false, "remove /internal-backstage/metrics")
	fs.env("disable-metrics-endpoint", "DISABLE_METRICS_ENDPOINT")
	fs.BoolVar(&g.DisableMetricsBatch, "disable-metrics-batch-endpoint", false, "remove /internal-backstage/metricsbatch")
	fs.env("disable-metrics-batch-endpoint", "DISABLE_METRICS_BATCH_ENDPOINT")
	fs.BoolVar(&g.DisableFeatures, "disable-features-endpoint", false, "remove /internal-backstage/features")
	fs.env("disable-features-endpoint", "DISABLE_FEATURES_ENDPOINT")
	fs.BoolVar(&g.DisableTokens, "disable-tokens-endpoint", false, "remove /internal-backstage/tokens")
	fs.env("disable-tokens-endpoint", "DISABLE_TOKENS_ENDPOINT")
	fs.BoolVar(&g.DisableInstanceData, "disable-instance-data-endpoint", false, "remove /internal-backstage/instancedata")
	fs.env("disable-instance-data-endpoint", "DISABLE_INSTANCE_DATA_ENDPOINT")
	fs.BoolVar(&g.TLSEnable, "tls-enable", false, "serve HTTPS (only) on --tls-server-port; a certificate alone (EDGE_TLS_CERT_FILE) also enables TLS, on --port")
	fs.env("tls-enable", "TLS_ENABLE")
	fs.StringVar(&g.TLSServerCert, "tls-server-cert", "", "TLS certificate chain (PEM)")
	fs.env("tls-server-cert", "TLS_SERVER_CERT")
	fs.StringVar(&g.TLSServerKey, "tls-server-key", "", "TLS private key (PEM)")
	fs.env("tls-server-key", "TLS_SERVER_KEY")
	fs.IntVar(&g.TLSServerPort, "tls-server-port", 3043, "HTTPS port with --tls-enable")
	fs.env("tls-server-port", "TLS_SERVER_PORT")
	fs.StringVar(&g.TLSAccept, "tls-accept", "netpoll", "how the TLS listener accepts: netpoll (net.Listener, a goroutine per connection) or loop (gnet event loop, then handshake workers) [env: BRINK_TLS__ACCEPT]")
	fs.BoolVar(&g.RedirectHTTPToHTTPS, "redirect-http-to-https", false, "with TLS, --port answers 308 redirects to HTTPS")
	fs.env("redirect-http-to-https", "REDIRECT_HTTP_TO_HTTPS")
	g.serverOptions.register(fs)
	fs.StringVarP(&g.ConfigFile, "config", "c", "", "YAML configuration file (keys: brink config print)")
	fs.env("config", config.EnvConfigFile)
	fs.StringArrayVar(&g.Sets, "set", nil, "set a configuration key: --set tls.listen_addr=:443 (repeatable; beaten by the key's own flag)")
	for _, name := range []string{"config", "set"} {
		_ = fs.SetAnnotation(name, noConfigAnnotation, []string{"true"})
	}
}

// offlineOptions are the options of `brink offline`.
type offlineOptions struct {
	BootstrapFile  string
	Tokens         []string
	ClientTokens   []string
	FrontendTokens []string
	ReloadInterval int
	Demo           bool
}

func (o *offlineOptions) register(fs *flagSet) {
	fs.StringVarP(&o.BootstrapFile, "bootstrap-file", "b", "", "features file: a /api/client/features dump or the simplified {name:{enabled,variant}} map")
	fs.env("bootstrap-file", "BOOTSTRAP_FILE")
	fs.StringSliceVarP(&o.Tokens, "tokens", "t", nil, "tokens accepted by both client and frontend APIs, comma-separated")
	fs.env("tokens", "TOKENS")
	fs.StringSliceVarP(&o.ClientTokens, "client-tokens", "c", nil, "tokens for the client (backend SDK) API, comma-separated")
	fs.env("client-tokens", "CLIENT_TOKENS")
	fs.StringSliceVarP(&o.FrontendTokens, "frontend-tokens", "f", nil, "tokens for the frontend API, comma-separated")
	fs.env("frontend-tokens", "FRONTEND_TOKENS")
	fs.IntVarP(&o.ReloadInterval, "reload-interval", "r", 0, "re-read the bootstrap file every N seconds (0: never)")
	fs.env("reload-interval", "RELOAD_INTERVAL")
	fs.BoolVar(&o.Demo, "demo", false, "serve the embedded demo flags with demo tokens (what `make run` does)")
}

// probeOptions are the options of `brink health` and `brink ready`.
type probeOptions struct {
	EdgeURL string
	CAFile  string
	Local   bool
}

func (o *probeOptions) register(fs *flagSet) {
	fs.StringVarP(&o.EdgeURL, "edge-url", "e", "http://localhost:3063", "base URL of the brink (or Unleash Edge) to probe")
	fs.env("edge-url", "EDGE_URL")
	fs.StringVarP(&o.CAFile, "ca-certificate-file", "c", "", "CA certificate for a self-signed HTTPS endpoint")
	fs.env("ca-certificate-file", "CA_CERTIFICATE_FILE")
	fs.BoolVar(&o.Local, "local", false, "probe the brink of this host or container: address and scheme from its own settings (PORT, INTERFACE, EDGE_TLS_*, TLS_*, BRINK_*, BRINK_CONFIG); its HTTPS certificate is not verified, as the kubelet's HTTPS probes do not")
}

func lookupEnv(k string) string { return os.Getenv(k) }

// edgeOptions are the options of `brink edge` (Unleash Edge's EdgeArgs).
type edgeOptions struct {
	UpstreamURL                string
	BackupFolder               string
	MetricsInterval            int
	FeaturesRefreshInterval    int
	TokenRevalidationInterval  int
	Tokens                     []string
	PretrustedTokens           []string
	CustomClientHeaders        []string
	SkipSSLVerification        bool
	PKCS8ClientCertificateFile string
	PKCS8ClientKeyFile         string
	PKCS12IdentityFile         string
	PKCS12Passphrase           string
	UpstreamCertificateFile    string
	UpstreamRequestTimeout     int
	UpstreamSocketTimeout      int
	ClientKeepaliveTimeout     int
	UpstreamAuthHeader         string
	RedisURL                   []string
	RedisMode                  string
	RedisPassword              string
	RedisUsername              string
	RedisHost                  string
	RedisPort                  int
	RedisSecure                bool
	RedisScheme                string
	RedisReadTimeoutMillis     int
	RedisWriteTimeoutMillis    int
	Streaming                  bool
}

func (o *edgeOptions) register(fs *flagSet) {
	fs.StringVarP(&o.UpstreamURL, "upstream-url", "u", "", "Unleash (or another brink/Edge) base URL, without /api")
	fs.env("upstream-url", "UPSTREAM_URL")
	fs.StringVarP(&o.BackupFolder, "backup-folder", "b", "", "persist features and tokens in this folder; excludes --redis-url")
	fs.env("backup-folder", "BACKUP_FOLDER")
	fs.IntVarP(&o.MetricsInterval, "metrics-interval-seconds", "m", 60, "how often SDK metrics are posted upstream")
	fs.env("metrics-interval-seconds", "METRICS_INTERVAL_SECONDS")
	fs.IntVarP(&o.FeaturesRefreshInterval, "features-refresh-interval-seconds", "f", 10, "seconds between feature refreshes per token")
	fs.env("features-refresh-interval-seconds", "FEATURES_REFRESH_INTERVAL_SECONDS")
	fs.IntVar(&o.TokenRevalidationInterval, "token-revalidation-interval-seconds", 3600, "seconds between revalidations of known tokens")
	fs.env("token-revalidation-interval-seconds", "TOKEN_REVALIDATION_INTERVAL_SECONDS")
	fs.StringSliceVarP(&o.Tokens, "tokens", "t", nil, "client tokens fetched at start-up (hot start), comma-separated")
	fs.env("tokens", "TOKENS")
	fs.StringSliceVarP(&o.PretrustedTokens, "pretrusted-tokens", "p", nil, "frontend tokens trusted without asking upstream, comma-separated")
	fs.env("pretrusted-tokens", "PRETRUSTED_TOKENS")
	fs.StringSliceVarP(&o.CustomClientHeaders, "custom-client-headers", "H", nil, "headers added to every upstream request, as 'Name: value', comma-separated or repeated")
	fs.env("custom-client-headers", "CUSTOM_CLIENT_HEADERS")
	fs.BoolVarP(&o.SkipSSLVerification, "skip-ssl-verification", "s", false, "do not verify the upstream's TLS certificate")
	fs.env("skip-ssl-verification", "SKIP_SSL_VERIFICATION")
	fs.StringVar(&o.PKCS8ClientCertificateFile, "pkcs8-client-certificate-file", "", "client certificate chain (PEM) for mutual TLS to upstream")
	fs.env("pkcs8-client-certificate-file", "PKCS8_CLIENT_CERTIFICATE_FILE")
	fs.StringVar(&o.PKCS8ClientKeyFile, "pkcs8-client-key-file", "", "PKCS#8 PEM key of the client certificate")
	fs.env("pkcs8-client-key-file", "PKCS8_CLIENT_KEY_FILE")
	fs.StringVar(&o.PKCS12IdentityFile, "pkcs12-identity-file", "", "client identity in PKCS#12 (.pfx) for mutual TLS to upstream")
	fs.env("pkcs12-identity-file", "PKCS12_IDENTITY_FILE")
	fs.StringVar(&o.PKCS12Passphrase, "pkcs12-passphrase", "", "passphrase of the PKCS#12 file")
	fs.env("pkcs12-passphrase", "PKCS12_PASSPHRASE")
	fs.StringVar(&o.UpstreamCertificateFile, "upstream-certificate-file", "", "extra CA certificate (PEM) to trust for the upstream")
	fs.env("upstream-certificate-file", "UPSTREAM_CERTIFICATE_FILE")
	fs.IntVar(&o.UpstreamRequestTimeout, "upstream-request-timeout", 5, "upstream connect timeout in seconds")
	fs.env("upstream-request-timeout", "UPSTREAM_REQUEST_TIMEOUT")
	fs.IntVar(&o.UpstreamSocketTimeout, "upstream-socket-timeout", 5, "upstream read timeout in seconds")
	fs.env("upstream-socket-timeout", "UPSTREAM_SOCKET_TIMEOUT")
	fs.IntVar(&o.ClientKeepaliveTimeout, "client-keepalive-timeout", 15, "keep-alive of upstream connections in seconds")
	fs.env("client-keepalive-timeout", "CLIENT_KEEPALIVE_TIMEOUT")
	fs.StringVar(&o.UpstreamAuthHeader, "upstream-auth-header", "", "header carrying the token upstream (default Authorization; --token-header sets it too)")
	fs.env("upstream-auth-header", "UPSTREAM_AUTH_HEADER")
	fs.StringSliceVar(&o.RedisURL, "redis-url", nil, "Redis URL(s) for persistence; several mean cluster nodes; excludes --backup-folder")
	fs.env("redis-url", "REDIS_URL")
	fs.StringVar(&o.RedisMode, "redis-mode", "single", "single or cluster")
	fs.env("redis-mode", "REDIS_MODE")
	fs.StringVar(&o.RedisPassword, "redis-password", "", "Redis password")
	fs.env("redis-password", "REDIS_PASSWORD")
	fs.StringVar(&o.RedisUsername, "redis-username", "", "Redis user name")
	fs.env("redis-username", "REDIS_USERNAME")
	fs.StringVar(&o.RedisHost, "redis-host", "", "Redis host, instead of --redis-url")
	fs.env("redis-host", "REDIS_HOST")
	fs.IntVar(&o.RedisPort, "redis-port", 0, "Redis port, with --redis-host")
	fs.env("redis-port", "REDIS_PORT")
	fs.BoolVar(&o.RedisSecure, "redis-secure", false, "use TLS to Redis (rediss)")
	fs.env("redis-secure", "REDIS_SECURE")
	fs.StringVar(&o.RedisScheme, "redis-scheme", "redis", "tcp, tls, redis, rediss, redis-unix or unix")
	fs.env("redis-scheme", "REDIS_SCHEME")
	fs.IntVar(&o.RedisReadTimeoutMillis, "redis-read-connection-timeout-milliseconds", 2000, "Redis read timeout")
	fs.env("redis-read-connection-timeout-milliseconds", "REDIS_READ_CONNECTION_TIMEOUT_MILLISECONDS")
	fs.IntVar(&o.RedisWriteTimeoutMillis, "redis-write-connection-timeout-milliseconds", 2000, "Redis write timeout")
	fs.env("redis-write-connection-timeout-milliseconds", "REDIS_WRITE_CONNECTION_TIMEOUT_MILLISECONDS")
	fs.BoolVar(&o.Streaming, "streaming", true, "consume the upstream's streaming endpoint when it offers one (else poll)")
	fs.env("streaming", "STREAMING")
}

// serverOptions choose how connections are accepted and served; global.
type serverOptions struct {
	Server         string
	Loops          int
	ReusePort      bool
	MaxConnections int
	SignalCapture  string
	SignalPath     string
}

func (o *serverOptions) register(fs *flagSet) {
	fs.StringVar(&o.Server, "server", "loop", "loop (gnet event loop, the default) or fasthttp (goroutine per connection; the default when a relay serves plain HTTP)")
	fs.env("server", "BRINK_SERVER")
	fs.IntVar(&o.Loops, "loops", 0, "event loops with --server loop (default: one per CPU)")
	fs.env("loops", "BRINK_LOOPS")
	fs.BoolVar(&o.ReusePort, "reuseport", false, "SO_REUSEPORT, so several brink processes share the port (--server loop)")
	fs.env("reuseport", "BRINK_REUSEPORT")
	fs.IntVar(&o.MaxConnections, "max-connections", 0, "refuse connections beyond this many (--server loop; 0: no limit)")
	fs.env("max-connections", "BRINK_MAX_CONNECTIONS")
	fs.StringVar(&o.SignalCapture, "signal-capture", "auto", "connection signals: auto (eBPF, else getsockopt), ebpf, fallback or off")
	fs.env("signal-capture", "BRINK_SIGNAL_CAPTURE")
	fs.StringVar(&o.SignalPath, "signal-path", "/signal", "where GET answers the caller's connection signal; - turns it off")
	fs.env("signal-path", "BRINK_SIGNAL_PATH")
}
