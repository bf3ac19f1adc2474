package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/brink-edge/brink/flags"
	"github.com/brink-edge/brink/flags/persist"
	"github.com/brink-edge/brink/flags/upstream"
)

// shutdownWork bounds the final metrics flush and persist after SIGTERM.
const shutdownWork = 10 * time.Second

// setupEdge builds `brink edge`: sync flags from an upstream Unleash (or
// another brink or Edge), validate tokens there, forward SDK metrics, and
// persist state, as Unleash Edge's edge mode does.
func setupEdge(fs *flagSet, g *globalOptions) func(io.Writer) error {
	var o edgeOptions
	o.register(fs)
	return func(io.Writer) error {
		logger, err := newLogger(g, os.Stderr)
		if err != nil {
			return err
		}
		return runEdge(g, &o, logger)
	}
}

func runEdge(g *globalOptions, o *edgeOptions, logger *slog.Logger) error {
	if o.UpstreamURL == "" {
		return usageError{errors.New("edge mode needs --upstream-url (UPSTREAM_URL)")}
	}
	for _, v := range []struct {
		name string
		val  int
	}{
		{"--metrics-interval-seconds", o.MetricsInterval},
		{"--features-refresh-interval-seconds", o.FeaturesRefreshInterval},
		{"--token-revalidation-interval-seconds", o.TokenRevalidationInterval},
	} {
		if v.val <= 0 {
			return usageError{fmt.Errorf("%s must be positive, got %d", v.name, v.val)}
		}
	}
	pcfg := persist.Config{BackupFolder: o.BackupFolder}
	if redisWanted(o) {
		pcfg.Redis = &persist.RedisConfig{
			URLs:         splitList(o.RedisURL),
			Mode:         o.RedisMode,
			Username:     o.RedisUsername,
			Password:     o.RedisPassword,
			Host:         o.RedisHost,
			Port:         o.RedisPort,
			Secure:       o.RedisSecure,
			Scheme:       o.RedisScheme,
			ReadTimeout:  time.Duration(o.RedisReadTimeoutMillis) * time.Millisecond,
			WriteTimeout: time.Duration(o.RedisWriteTimeoutMillis) * time.Millisecond,
		}
	}
	persister, err := persist.Open(pcfg)
	if err != nil {
		if errors.Is(err, persist.ErrExclusive) {
			return usageError{err}
		}
		return fmt.Errorf("opening persistence: %w", err)
	}
	if c, ok := persister.(io.Closer); ok {
		defer c.Close() // after the final persist in edge.Shutdown, or on an early return
	}
	acfg, err := apiConfig(g)
	if err != nil {
		return err
	}
	instanceID := g.InstanceID
	if instanceID == "" {
		instanceID = randomInstanceID()
	}
	// --token-header sets both headers, as in Unleash Edge, unless
	// --upstream-auth-header names the upstream one itself.
	upstreamHeader := o.UpstreamAuthHeader
	if upstreamHeader == "" {
		upstreamHeader = g.TokenHeader
	}
	client, err := upstream.NewClient(upstream.ClientConfig{
		URL:              o.UpstreamURL,
		AppName:          g.AppName,
		InstanceID:       instanceID,
		CustomHeaders:    o.CustomClientHeaders,
		AuthHeader:       upstreamHeader,
		SkipTLSVerify:    o.SkipSSLVerification,
		ClientCertFile:   o.PKCS8ClientCertificateFile,
		ClientKeyFile:    o.PKCS8ClientKeyFile,
		PKCS12File:       o.PKCS12IdentityFile,
		PKCS12Passphrase: o.PKCS12Passphrase,
		UpstreamCAFile:   o.UpstreamCertificateFile,
		RequestTimeout:   time.Duration(o.UpstreamRequestTimeout) * time.Second,
		SocketTimeout:    time.Duration(o.UpstreamSocketTimeout) * time.Second,
		KeepAlive:        time.Duration(o.ClientKeepaliveTimeout) * time.Second,
		Interval:         time.Duration(o.FeaturesRefreshInterval) * time.Second,
		Version:          version,
		Logger:           logger,
	})
	if err != nil {
		return usageError{fmt.Errorf("configuring the upstream client: %w", err)}
	}
	store := new(flags.Store)
	tokens := new(flags.TokenCache)
	for _, raw := range splitList(o.PretrustedTokens) {
		tokens.Add(pretrusted(raw))
	}
	edge, err := upstream.New(upstream.Config{
		Client:                    client,
		Store:                     store,
		Tokens:                    tokens,
		StartupTokens:             splitList(o.Tokens),
		FeaturesRefreshInterval:   time.Duration(o.FeaturesRefreshInterval) * time.Second,
		TokenRevalidationInterval: time.Duration(o.TokenRevalidationInterval) * time.Second,
		DisableStreaming:          !o.Streaming,
		Persister:                 persister,
		Logger:                    logger,
	})
	if err != nil {
		return usageError{err}
	}
	aggregator := flags.NewMetricsAggregator(flags.MetricsConfig{AppName: g.AppName, InstanceID: instanceID})
	forwarder, err := upstream.NewMetricsForwarder(upstream.MetricsConfig{
		Poster:     client,
		Aggregator: aggregator,
		TokenFor:   edge.TokenFor,
		Interval:   time.Duration(o.MetricsInterval) * time.Second,
		Logger:     logger,
	})
	if err != nil {
		return err
	}
	acfg.Store = store
	acfg.Tokens = tokens
	acfg.Metrics = aggregator
	acfg.Validator = edge.Validator()
	acfg.TokenRefreshes = func() any { return edge.Refreshes() }
	// Unleash Edge listens only after its hot start; brink listens first,
	// so it must not say READY before Start has validated the startup
	// tokens (until then the token cache is empty, which edge.Ready alone
	// takes for "nothing to wait for").
	var started atomic.Bool
	acfg.Ready = func() bool { return started.Load() && edge.Ready() }
	acfg.Logger = logger
	acfg.InstanceID = instanceID
	// Listen first so probes see 503 NOT_READY during the hot start, as
	// they would with a slow Unleash Edge start.
	srv, err := openServer(g, logger, acfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startErr := make(chan error, 1)
	go func() {
		err := edge.Start(ctx)
		started.Store(true)
		// Report before cancelling: the shutdown below reads startErr.
		startErr <- err
		if err != nil {
			logger.Error("edge start failed", "err", err)
			cancel()
		}
	}()
	go forwarder.Run(ctx)
	logger.Info("serving", "mode", "edge", "server", g.Server, "addr", srv.primaryAddr(), "scheme", srv.scheme(), "upstream", g.cfg.Redacted().Edge.UpstreamURL, "version", version)
	serveErr := srv.run(ctx)

	// After the listener drained: stop a hot start still under way (so the
	// final persist never races it), then flush metrics and persist state.
	sctx, scancel := context.WithTimeout(context.Background(), shutdownWork)
	defer scancel()
	var failed error
	select {
	case failed = <-startErr: // the start had finished (or failed) by itself
		cancel()
	default:
		cancel() // a start still under way ends here; its error is ours
		select {
		case <-startErr:
		case <-sctx.Done():
			logger.Warn("hot start did not stop in time")
		}
	}
	if err := forwarder.Flush(sctx); err != nil {
		logger.Warn("metrics not all sent before exit", "err", err)
	}
	if err := edge.Shutdown(sctx); err != nil {
		logger.Warn("edge shutdown", "err", err)
	}
	if failed != nil {
		return fmt.Errorf("starting edge mode: %w", failed)
	}
	return serveErr
}

// redisWanted reports whether any Redis option asks for Redis persistence.
func redisWanted(o *edgeOptions) bool {
	return len(splitList(o.RedisURL)) > 0 || o.RedisHost != ""
}

// pretrusted turns a --pretrusted-tokens entry into a trusted frontend
// token: an Unleash-format token keeps its scope, a legacy `secret@env`
// sees every project of env.
func pretrusted(raw string) flags.Token {
	t, err := flags.ParseToken(raw)
	if err != nil {
		t = flags.Token{Raw: raw, Projects: []string{"*"}}
		for i := len(raw) - 1; i > 0; i-- {
			if raw[i] == '@' {
				t.Environment = raw[i+1:]
				break
			}
		}
	}
	t.Type, t.Status = flags.TokenFrontend, flags.TokenTrusted
	return t
}

func randomInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "brink@" + hex.EncodeToString(b[:])
}
