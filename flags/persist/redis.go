package persist

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/brink-edge/brink/flags"
)

// Redis modes (--redis-mode).
const (
	RedisSingle  = "single"
	RedisCluster = "cluster"
)

// DefaultRedisTimeout is Unleash Edge's default for
// --redis-read-connection-timeout-milliseconds and
// --redis-write-connection-timeout-milliseconds.
const DefaultRedisTimeout = 2 * time.Second

// RedisConfig holds Unleash Edge's --redis-* options.
type RedisConfig struct {
	// URLs is --redis-url (comma-separated on the command line):
	// redis://[user:password@]host[:port][/db], rediss:// for TLS (a
	// "#insecure" fragment skips certificate verification, as in Unleash
	// Edge), unix:///path/to.sock. A URL without a scheme is taken as
	// redis://. In single mode only the first URL is used, as in Unleash
	// Edge; in cluster mode they are the seed nodes.
	URLs []string
	// Mode is --redis-mode: "single" (the default when empty) or "cluster".
	Mode string
	// Username and Password (--redis-username, --redis-password) replace
	// those of the URLs when set.
	Username, Password string
	// Host (--redis-host) is used when URLs is empty: the URL is
	// Scheme://Host.
	Host string
	// Port (--redis-port), when not 0, replaces the port of the URLs.
	Port int
	// Secure (--redis-secure) forces TLS (scheme rediss).
	Secure bool
	// Scheme (--redis-scheme) is the scheme for Host: redis (the default),
	// rediss, tcp (= redis), tls (= rediss), redis-unix or unix (Host is
	// then a socket path).
	Scheme string
	// ReadTimeout and WriteTimeout (--redis-read-connection-timeout-
	// milliseconds, --redis-write-connection-timeout-milliseconds) bound
	// socket reads and writes; ReadTimeout also bounds connecting. Zero
	// means DefaultRedisTimeout.
	ReadTimeout, WriteTimeout time.Duration
}

// Redis keeps the state in Redis under Unleash Edge's keys, as JSON strings
// set without expiry. Several instances may share one Redis: each Save
// replaces the whole state (in single mode in one MULTI/EXEC transaction;
// in cluster mode the three keys live in different slots and are set in
// one pipeline), and the last writer wins.
//
// Connecting is lazy: NewRedis succeeds while Redis is down, and Load and
// Save return errors until it is up. A Redis is safe for concurrent use.
type Redis struct {
	client  redis.UniversalClient
	cluster bool
	where   string // for errors: the address(es), without credentials
}

var _ flags.Persister = (*Redis)(nil)

// NewRedis returns a Redis for cfg. It fails only for a configuration that
// cannot work (no URL or host, an unknown mode or scheme, a URL that cannot
// be parsed); it does not connect.
func NewRedis(cfg RedisConfig) (*Redis, error) {
	urls, err := redisURLs(cfg)
	if err != nil {
		return nil, err
	}
	readTimeout, writeTimeout := cfg.ReadTimeout, cfg.WriteTimeout
	if readTimeout <= 0 {
		readTimeout = DefaultRedisTimeout
	}
	if writeTimeout <= 0 {
		writeTimeout = DefaultRedisTimeout
	}
	noMaint := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}

	switch mode := strings.ToLower(strings.TrimSpace(cfg.Mode)); mode {
	case "", RedisSingle:
		opt, err := parseRedisURL(urls[0])
		if err != nil {
			return nil, err
		}
		opt.ReadTimeout, opt.WriteTimeout, opt.DialTimeout = readTimeout, writeTimeout, readTimeout
		opt.ContextTimeoutEnabled = true
		opt.MaxRetries = 1
		opt.DisableIdentity = true
		opt.MaintNotificationsConfig = noMaint
		return &Redis{client: redis.NewClient(opt), where: "redis " + opt.Addr}, nil

	case RedisCluster:
		copt := &redis.ClusterOptions{
			ReadTimeout:              readTimeout,
			WriteTimeout:             writeTimeout,
			DialTimeout:              readTimeout,
			ContextTimeoutEnabled:    true,
			MaxRetries:               1,
			DisableIdentity:          true,
			MaintNotificationsConfig: noMaint,
		}
		for i, u := range urls {
			opt, err := parseRedisURL(u)
			if err != nil {
				return nil, err
			}
			if opt.Network != "tcp" {
				return nil, fmt.Errorf("persist: --redis-url %s: a cluster node needs a TCP address", u.Redacted())
			}
			if i == 0 {
				copt.Username, copt.Password, copt.TLSConfig = opt.Username, opt.Password, opt.TLSConfig
				if copt.TLSConfig != nil {
					// Verify each node by its own host name (crypto/tls
					// takes it from the address), not the first URL's.
					copt.TLSConfig.ServerName = ""
				}
			}
			copt.Addrs = append(copt.Addrs, opt.Addr)
		}
		return &Redis{
			client:  redis.NewClusterClient(copt),
			cluster: true,
			where:   "redis cluster " + strings.Join(copt.Addrs, ","),
		}, nil

	default:
		return nil, fmt.Errorf("persist: --redis-mode %q: want %q or %q", cfg.Mode, RedisSingle, RedisCluster)
	}
}

// redisURLs builds the URLs of cfg as Unleash Edge does: --redis-url, or
// --redis-scheme://--redis-host, then --redis-username, --redis-password
// and --redis-port replace those of each URL and --redis-secure forces
// rediss.
func redisURLs(cfg RedisConfig) ([]*url.URL, error) {
	var raws []string
	for _, s := range cfg.URLs {
		if s = strings.TrimSpace(s); s != "" {
			raws = append(raws, s)
		}
	}
	fromHost := false
	if len(raws) == 0 {
		host := strings.TrimSpace(cfg.Host)
		if host == "" {
			return nil, errors.New("persist: Redis needs --redis-url or --redis-host")
		}
		scheme, err := redisScheme(cfg.Scheme)
		if err != nil {
			return nil, err
		}
		if scheme == "unix" {
			raws = []string{"unix://" + host}
		} else {
			raws = []string{scheme + "://" + host}
		}
		fromHost = true
	}
	urls := make([]*url.URL, 0, len(raws))
	for _, raw := range raws {
		if !strings.Contains(raw, "://") {
			raw = "redis://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("persist: --redis-url %s: %w", redactRaw(raw), redactErr(err, raw))
		}
		if !fromHost {
			if u.Scheme, err = redisScheme(u.Scheme); err != nil {
				return nil, fmt.Errorf("persist: --redis-url %s: %w", u.Redacted(), err)
			}
		}
		if cfg.Username != "" || cfg.Password != "" {
			user, pass := "", ""
			if u.User != nil {
				user = u.User.Username()
				pass, _ = u.User.Password()
			}
			if cfg.Username != "" {
				user = cfg.Username
			}
			if cfg.Password != "" {
				pass = cfg.Password
			}
			u.User = url.UserPassword(user, pass)
		}
		if cfg.Port != 0 && u.Scheme != "unix" {
			if cfg.Port < 0 || cfg.Port > 65535 {
				return nil, fmt.Errorf("persist: --redis-port %d is out of range", cfg.Port)
			}
			u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(cfg.Port))
		}
		if cfg.Secure {
			if u.Scheme == "unix" {
				return nil, fmt.Errorf("persist: --redis-secure cannot be used with the unix socket %s", u.Path)
			}
			u.Scheme = "rediss"
		}
		urls = append(urls, u)
	}
	return urls, nil
}

// redisScheme maps Unleash Edge's --redis-scheme values (and the schemes
// redis-rs accepts in URLs) to go-redis's.
func redisScheme(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "redis", "tcp":
		return "redis", nil
	case "rediss", "tls":
		return "rediss", nil
	case "unix", "redis-unix", "redis+unix":
		return "unix", nil
	}
	return "", fmt.Errorf("persist: Redis scheme %q: want redis, rediss, tcp, tls, redis-unix or unix", s)
}

// parseRedisURL turns a URL from redisURLs into go-redis options. A
// "#insecure" fragment (redis-rs's spelling) skips TLS verification.
func parseRedisURL(u *url.URL) (*redis.Options, error) {
	c := *u
	insecure := c.Fragment == "insecure"
	c.Fragment, c.RawFragment = "", ""
	opt, err := redis.ParseURL(c.String())
	if err != nil {
		return nil, fmt.Errorf("persist: --redis-url %s: %w", u.Redacted(), err)
	}
	if insecure && opt.TLSConfig != nil {
		opt.TLSConfig.InsecureSkipVerify = true
	}
	return opt, nil
}

// redactRaw hides what looks like a password in a URL that did not parse.
func redactRaw(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		userinfo := rest[:at]
		if user, _, ok := strings.Cut(userinfo, ":"); ok {
			return scheme + "://" + user + ":xxxxx@" + rest[at+1:]
		}
	}
	return raw
}

// redactErr replaces url.Parse's error, which quotes the whole URL, with
// its reason.
func redactErr(err error, raw string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	if raw != redactRaw(raw) {
		return errors.New("invalid URL")
	}
	return err
}

// Close closes the connections to Redis.
func (r *Redis) Close() error { return r.client.Close() }

// Load reads the three keys. A missing key counts as empty and nil, nil
// means none exists. A connection failure or a corrupt value is an error
// naming the address and key; no state is returned then.
func (r *Redis) Load(ctx context.Context) (*flags.PersistedState, error) {
	s := stored{
		tokensAt:       r.where + " key " + TokensKey,
		featuresAt:     r.where + " key " + FeaturesKey,
		lastEventIDsAt: r.where + " key " + LastEventIDsKey,
	}
	keys := []string{TokensKey, FeaturesKey, LastEventIDsKey}
	vals := make([][]byte, len(keys))
	if r.cluster {
		// The keys are in different slots: one GET each, pipelined.
		cmds := make([]*redis.StringCmd, len(keys))
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("persist: %s: load: %w", r.where, err)
		}
		for i, c := range cmds {
			b, err := c.Bytes()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				return nil, fmt.Errorf("persist: %s: GET %s: %w", r.where, keys[i], err)
			default:
				vals[i] = nonNil(b)
			}
		}
	} else {
		res, err := r.client.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("persist: %s: load: %w", r.where, err)
		}
		for i, v := range res {
			switch v := v.(type) {
			case nil:
			case string:
				vals[i] = nonNil([]byte(v))
			default:
				return nil, fmt.Errorf("persist: %s key %s: unexpected %T value", r.where, keys[i], v)
			}
		}
	}
	s.tokens, s.features, s.lastEventIDs = vals[0], vals[1], vals[2]
	return s.decode()
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Save replaces the three keys with st (nil saves an empty state). Only
// validated tokens are written.
func (r *Redis) Save(ctx context.Context, st *flags.PersistedState) error {
	d, err := encodeState(st)
	if err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	set := func(p redis.Pipeliner) error {
		p.Set(ctx, FeaturesKey, d.features, 0)
		p.Set(ctx, TokensKey, d.tokens, 0)
		p.Set(ctx, LastEventIDsKey, d.lastEventIDs, 0)
		return nil
	}
	if r.cluster {
		_, err = r.client.Pipelined(ctx, set)
	} else {
		_, err = r.client.TxPipelined(ctx, set)
	}
	if err != nil {
		return fmt.Errorf("persist: %s: save: %w", r.where, err)
	}
	return nil
}
