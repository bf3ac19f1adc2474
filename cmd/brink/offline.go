package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/brink-edge/brink/flags"
	"github.com/brink-edge/brink/flags/api"
)

// setupOffline builds `brink offline`: serve a bootstrap file (or the
// embedded demo set) with the configured tokens, as Unleash Edge's offline
// mode does.
func setupOffline(fs *flagSet, g *globalOptions) func(io.Writer) error {
	var o offlineOptions
	o.register(fs)
	return func(stdout io.Writer) error {
		logger, err := newLogger(g, os.Stderr)
		if err != nil {
			return err
		}
		client := append(splitList(o.Tokens), splitList(o.ClientTokens)...)
		frontend := append(splitList(o.Tokens), splitList(o.FrontendTokens)...)
		cfg := flags.OfflineConfig{
			Path:           o.BootstrapFile,
			ReloadInterval: time.Duration(o.ReloadInterval) * time.Second,
			Logger:         logger,
		}
		switch {
		case o.Demo:
			if o.BootstrapFile != "" {
				return usageError{errors.New("--demo and --bootstrap-file exclude each other")}
			}
			cfg.Data = demoFlags
			client = append(client, demoClientToken)
			frontend = append(frontend, demoFrontendToken)
		case o.BootstrapFile == "":
			return usageError{errors.New("offline mode needs --bootstrap-file (BOOTSTRAP_FILE), or --demo")}
		}
		if len(client)+len(frontend) == 0 {
			return usageError{errors.New("offline mode needs at least one token: --tokens, --client-tokens or --frontend-tokens")}
		}
		if o.ReloadInterval < 0 {
			return usageError{fmt.Errorf("--reload-interval must not be negative, got %d", o.ReloadInterval)}
		}
		acfg, err := apiConfig(g)
		if err != nil {
			return err
		}
		src, err := flags.NewOffline(cfg)
		if err != nil {
			return fmt.Errorf("loading bootstrap: %w", err)
		}
		acfg.Store = src.Store()
		acfg.Tokens = flags.OfflineTokens(client, frontend)
		acfg.Logger = logger
		acfg.Ready = func() bool { return src.Store().Has("") }
		srv, err := openServer(g, logger, acfg)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go src.Run(ctx)
		logger.Info("serving", "mode", "offline", "server", g.Server, "addr", srv.primaryAddr(), "version", version)
		if o.Demo {
			printDemo(stdout, srv.scheme(), srv.primaryAddr(), g.BasePath, src.Store().Load("").Plan.Len())
		}
		return srv.run(ctx)
	}
}

// apiConfig maps the global options onto the HTTP API's configuration.
func apiConfig(g *globalOptions) (api.Config, error) {
	allow, err := parsePrefixes("--allow-list", g.AllowList)
	if err != nil {
		return api.Config{}, err
	}
	deny, err := parsePrefixes("--deny-list", g.DenyList)
	if err != nil {
		return api.Config{}, err
	}
	trusted, err := parsePrefixes("--proxy-trusted-servers", g.ProxyTrustedServers)
	if err != nil {
		return api.Config{}, err
	}
	header := g.TokenHeader
	if header == "" {
		header = g.EdgeAuthHeader
	}
	return api.Config{
		BasePath:    g.BasePath,
		TokenHeader: header,
		CORS: api.CORSConfig{
			Origins:        splitList(g.CORSOrigin),
			AllowedHeaders: splitList(g.CORSAllowedHeaders),
			ExposedHeaders: splitList(g.CORSExposedHeaders),
			Methods:        splitList(g.CORSMethods),
			MaxAge:         g.CORSMaxAge,
		},
		AllowList:                   allow,
		DenyList:                    deny,
		TrustProxy:                  g.TrustProxy,
		ProxyTrustedServers:         trusted,
		DisableAllEndpoint:          g.DisableAll,
		DisableMetricsEndpoint:      g.DisableMetrics,
		DisableFeaturesEndpoint:     g.DisableFeatures,
		DisableTokensEndpoint:       g.DisableTokens,
		DisableMetricsBatchEndpoint: g.DisableMetricsBatch,
		DisableInstanceDataEndpoint: g.DisableInstanceData,
		Version:                     version,
		AppName:                     g.AppName,
		InstanceID:                  g.InstanceID,
	}, nil
}

// parsePrefixes parses CIDRs and bare addresses (a /32 or /128).
func parsePrefixes(option string, in []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range splitList(in) {
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, usageError{fmt.Errorf("invalid %s entry %q: %w", option, s, err)}
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, usageError{fmt.Errorf("invalid %s entry %q: %w", option, s, err)}
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// printDemo tells a newcomer how to talk to the demo instance.
func printDemo(w io.Writer, scheme, addr, basePath string, n int) {
	ap, err := netip.ParseAddrPort(addr)
	host := addr
	if err == nil && ap.Addr().IsUnspecified() {
		host = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port()).String()
	}
	base := scheme + "://" + host
	if p := strings.Trim(basePath, "/"); p != "" {
		base += "/" + p
	}
	fmt.Fprintf(w, "brink %s serving %d demo flags on %s\n", version, n, base)
	fmt.Fprintf(w, "  client token:   %s\n  frontend token: %s\n", demoClientToken, demoFrontendToken)
	curl := "curl -s"
	if scheme == "https" {
		curl = "curl -s --cacert <your CA or -k>"
	}
	fmt.Fprintf(w, "try:\n  %s -H 'Authorization: %s' '%s/api/frontend?userId=42&properties%%5Bplan%%5D=pro'\n", curl, demoFrontendToken, base)
	fmt.Fprintf(w, "  %s -H 'Authorization: %s' '%s/api/client/features'\n", curl, demoClientToken, base)
}
