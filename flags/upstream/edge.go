package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brink-edge/brink/flags"
)

// Defaults of Config.
const (
	DefaultFeaturesRefreshInterval   = 10 * time.Second
	DefaultTokenRevalidationInterval = time.Hour
	DefaultPersistInterval           = 60 * time.Second
	DefaultStartupRetryInterval      = time.Second
	DefaultStreamReconnectDelay      = 5 * time.Second
	DefaultHotStartTimeout           = 30 * time.Second
)

// Persister is what the Edge restores from and saves to (Redis, a backup
// folder); package flags/persist implements it.
type Persister = flags.Persister

// Config configures an Edge. The zero value of every field but Store means
// its documented default.
type Config struct {
	// Client is the upstream client. When nil, one is built from
	// ClientConfig (whose Interval defaults to FeaturesRefreshInterval and
	// whose Logger defaults to Logger).
	Client       *Client
	ClientConfig ClientConfig
	// Store receives the flag state of every environment. Required.
	Store *flags.Store
	// Tokens is the token cache the API reads and the Validator fills.
	// Default: a new, empty cache.
	Tokens *flags.TokenCache
	// StartupTokens are validated at Start and their client tokens'
	// features fetched before Start returns (hot start, --tokens). Each
	// must be in the Unleash format; empty strings are skipped.
	StartupTokens []string
	// FeaturesRefreshInterval is how often each token's features are
	// polled. Default 10 s.
	FeaturesRefreshInterval time.Duration
	// TokenRevalidationInterval is how often validated tokens are checked
	// upstream again. Default 1 h.
	TokenRevalidationInterval time.Duration
	// StartupRetryInterval is how often startup tokens the upstream could
	// not validate yet are tried again. Default 1 s.
	StartupRetryInterval time.Duration
	// ValidationTimeout bounds one /edge/validate request. Default: the
	// client's SocketTimeout.
	ValidationTimeout time.Duration
	// HotStartTimeout bounds the feature fetches of Start. Default 30 s.
	HotStartTimeout time.Duration
	// MaxInvalidTokens bounds the invalid tokens remembered. Default
	// 10 000.
	MaxInvalidTokens int
	// DisableStreaming keeps every environment on polling. By default the
	// upstream's /api/client/streaming is tried once per environment and
	// used when it answers with an event stream.
	DisableStreaming bool
	// StreamReconnectDelay is the wait before reconnecting an interrupted
	// event stream (doubling to 30 s while it keeps failing). Default 5 s.
	StreamReconnectDelay time.Duration
	// Persister restores the state at Start when the upstream cannot be
	// reached, and saves it every PersistInterval and at Shutdown once the
	// upstream delivered features. Nil: no persistence.
	Persister Persister
	// PersistInterval is how often the state is saved. Default 60 s.
	PersistInterval time.Duration
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
}

// Edge runs edge mode against an upstream: token validation, feature
// refresh, persistence. It is safe for concurrent use.
type Edge struct {
	cfg       Config
	client    *Client
	store     *flags.Store
	tokens    *flags.TokenCache
	startup   []string
	refresh   *refresher
	validator *Validator
	log       *slog.Logger

	// life is the Edge's lifetime: background work ends when Shutdown
	// cancels it.
	life    context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	started atomic.Bool
	down    sync.Once

	persistMu sync.Mutex
}

// New fills the defaults of cfg, checks it and builds an Edge. Nothing is
// sent upstream before Start (or a Validate call).
func New(cfg Config) (*Edge, error) {
	if cfg.Store == nil {
		return nil, ErrNoStore
	}
	if cfg.Tokens == nil {
		cfg.Tokens = new(flags.TokenCache)
	}
	if cfg.FeaturesRefreshInterval <= 0 {
		cfg.FeaturesRefreshInterval = DefaultFeaturesRefreshInterval
	}
	if cfg.TokenRevalidationInterval <= 0 {
		cfg.TokenRevalidationInterval = DefaultTokenRevalidationInterval
	}
	if cfg.StartupRetryInterval <= 0 {
		cfg.StartupRetryInterval = DefaultStartupRetryInterval
	}
	if cfg.HotStartTimeout <= 0 {
		cfg.HotStartTimeout = DefaultHotStartTimeout
	}
	if cfg.MaxInvalidTokens <= 0 {
		cfg.MaxInvalidTokens = DefaultMaxInvalidTokens
	}
	if cfg.StreamReconnectDelay <= 0 {
		cfg.StreamReconnectDelay = DefaultStreamReconnectDelay
	}
	if cfg.PersistInterval <= 0 {
		cfg.PersistInterval = DefaultPersistInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.Client
	if client == nil {
		cc := cfg.ClientConfig
		if cc.Interval <= 0 {
			cc.Interval = cfg.FeaturesRefreshInterval
		}
		if cc.Logger == nil {
			cc.Logger = cfg.Logger
		}
		var err error
		if client, err = NewClient(cc); err != nil {
			return nil, err
		}
	}
	if cfg.ValidationTimeout <= 0 {
		cfg.ValidationTimeout = client.cfg.SocketTimeout
	}
	var startup []string
	for _, s := range cfg.StartupTokens {
		s = strings.TrimSpace(s)
		if s == "" || slices.Contains(startup, s) {
			continue
		}
		if _, err := flags.ParseToken(s); err != nil {
			return nil, fmt.Errorf("upstream: startup token %s: %w", flags.Token{Raw: s}.Anonymised(), err)
		}
		startup = append(startup, s)
	}
	e := &Edge{cfg: cfg, client: client, store: cfg.Store, tokens: cfg.Tokens, startup: startup, log: log}
	e.life, e.stop = context.WithCancel(context.Background())
	e.refresh = newRefresher(e.life, &e.wg, client, cfg.Store, cfg.FeaturesRefreshInterval,
		cfg.StreamReconnectDelay, !cfg.DisableStreaming, log)
	e.validator = &Validator{
		client: client, tokens: cfg.Tokens, refresh: e.refresh, timeout: cfg.ValidationTimeout,
		maxInvalid: cfg.MaxInvalidTokens, log: log, life: e.life, wg: &e.wg,
		calls: make(map[string]*validation),
	}
	return e, nil
}

// Start brings the Edge up, as Unleash Edge's build_edge: it validates the
// startup tokens and the tokens persisted last time in one request,
// fetches the features of the valid client tokens (hot start, bounded by
// HotStartTimeout), and restores from the Persister (read once; a Load
// error is logged, never fatal) what the upstream did not provide: when
// the upstream cannot be reached, the persisted tokens as saved and the
// persisted features; when it can, the persisted features of environments
// whose fetch failed, covered by tokens it just confirmed. Then it starts the
// background work: polling or streaming, revalidation, retrying startup
// tokens not validated yet every StartupRetryInterval, and persisting.
// It returns ErrNoValidTokens when startup tokens were given but none is
// valid and nothing was restored.
func (e *Edge) Start(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	saved := e.load(ctx)
	raws := slices.Clone(e.startup)
	if saved != nil {
		for _, t := range saved.Tokens {
			if t.Status == flags.TokenValidated && !slices.Contains(raws, t.Raw) {
				raws = append(raws, t.Raw)
			}
		}
	}
	reachable := true
	var valid []flags.Token
	if len(raws) > 0 {
		var err error
		valid, err = e.validator.validateAll(ctx, raws)
		if err != nil {
			reachable = false
			e.log.Warn("cannot validate tokens upstream at start", "url", e.client.URL(), "err", err)
		}
	}
	e.hotStart(ctx, valid)
	restored := false
	if saved != nil {
		restored = e.restore(saved, valid, reachable)
	}
	var pending []string
	for _, raw := range e.startup {
		if t, ok := e.tokens.Get(raw); !ok || t.Status == flags.TokenUnknown {
			pending = append(pending, raw)
		}
	}
	if len(e.startup) > 0 && !restored && !e.anyValid() {
		e.shutdownLoops()
		return ErrNoValidTokens
	}
	e.log.Info("edge started", "url", e.client.URL(), "valid_tokens", len(valid), "restored", restored, "pending_tokens", len(pending))

	e.wg.Add(3)
	go func() { defer e.wg.Done(); e.refresh.loop(e.life) }()
	go func() { defer e.wg.Done(); e.revalidateLoop() }()
	go func() { defer e.wg.Done(); e.persistLoop() }()
	if len(pending) > 0 || (restored && !reachable) {
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.retryLoop(pending, restored && !reachable) }()
	}
	return nil
}

// load reads the persisted state once.
func (e *Edge) load(ctx context.Context) *flags.PersistedState {
	if e.cfg.Persister == nil {
		return nil
	}
	st, err := e.cfg.Persister.Load(ctx)
	if err != nil {
		e.log.Warn("cannot load the persisted state; starting without it", "err", err)
		return nil
	}
	return st
}

// hotStart registers the valid client tokens for refresh and fetches
// their features, in parallel, within HotStartTimeout.
func (e *Edge) hotStart(ctx context.Context, valid []flags.Token) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.HotStartTimeout)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, t := range valid {
		if t.Type != flags.TokenClient || !e.refresh.register(t) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			e.refresh.hydrate(ctx, t)
		}()
	}
	wg.Wait()
}

// restore installs the persisted tokens and features the upstream did not
// provide. With the upstream unreachable, persisted validated tokens are
// trusted as they were saved; with it reachable, only tokens it just
// confirmed cover restored features (of environments whose fetch failed).
func (e *Edge) restore(saved *flags.PersistedState, valid []flags.Token, reachable bool) bool {
	restored := false
	source := valid
	if !reachable {
		source = nil
		for _, t := range saved.Tokens {
			if t.Status != flags.TokenValidated {
				continue
			}
			if old, ok := e.tokens.Get(t.Raw); ok && old.Status != flags.TokenUnknown {
				continue
			}
			if t.Projects == nil {
				t.Projects = []string{}
			}
			e.tokens.Add(t)
			source = append(source, t)
			restored = true
		}
	}
	envs := make([]string, 0, len(saved.Features))
	for env := range saved.Features {
		envs = append(envs, env)
	}
	slices.Sort(envs)
	for _, env := range envs {
		cf := saved.Features[env]
		if cf == nil || e.store.Environments()[env] != nil {
			continue
		}
		var toks []flags.Token
		for _, t := range source {
			if t.Type == flags.TokenClient && t.Environment == env {
				toks = append(toks, t)
			}
		}
		if reachable && len(toks) == 0 {
			continue
		}
		if e.refresh.restore(env, cf, toks) {
			restored = true
			e.log.Info("restored features from persistence", "environment", env, "features", len(cf.Features))
		}
	}
	return restored
}

func (e *Edge) anyValid() bool {
	for _, t := range e.tokens.All() {
		if t.Status == flags.TokenValidated {
			return true
		}
	}
	return false
}

// retryLoop validates the startup tokens the upstream could not validate
// at start, every StartupRetryInterval until all are known; after a
// restore from persistence it also revalidates the restored tokens once
// the upstream answers.
func (e *Edge) retryLoop(pending []string, revalidate bool) {
	tick := time.NewTicker(e.cfg.StartupRetryInterval)
	defer tick.Stop()
	for len(pending) > 0 || revalidate {
		select {
		case <-e.life.Done():
			return
		case <-tick.C:
		}
		if len(pending) > 0 {
			valid, err := e.validator.validateAll(e.life, pending)
			if err == nil {
				pending = nil
				e.hotStart(e.life, valid)
				e.log.Info("startup tokens validated", "valid", len(valid))
			}
		}
		if revalidate && e.validator.revalidate(e.life) == nil {
			revalidate = false
		}
	}
}

func (e *Edge) revalidateLoop() {
	tick := time.NewTicker(e.cfg.TokenRevalidationInterval)
	defer tick.Stop()
	for {
		select {
		case <-e.life.Done():
			return
		case <-tick.C:
			_ = e.validator.revalidate(e.life)
		}
	}
}

func (e *Edge) persistLoop() {
	if e.cfg.Persister == nil {
		return
	}
	tick := time.NewTicker(e.cfg.PersistInterval)
	defer tick.Stop()
	for {
		select {
		case <-e.life.Done():
			return
		case <-tick.C:
			if err := e.persist(e.life); err != nil {
				e.log.Warn("cannot persist the state", "err", err)
			}
		}
	}
}

// persist saves the validated tokens and the features of every
// environment, once the upstream delivered features since start (so an
// edge that restored from a backup while its upstream is down never
// overwrites that backup with less).
func (e *Edge) persist(ctx context.Context) error {
	if e.cfg.Persister == nil || !e.refresh.isSynced() {
		return nil
	}
	e.persistMu.Lock()
	defer e.persistMu.Unlock()
	st := &flags.PersistedState{}
	for _, t := range e.tokens.All() {
		if t.Status == flags.TokenValidated {
			st.Tokens = append(st.Tokens, t)
		}
	}
	st.Features, st.LastEventIDs = e.refresh.state()
	return e.cfg.Persister.Save(ctx, st)
}

// Ready reports whether the Edge can answer: false while it knows valid
// tokens but holds no features yet (Unleash Edge's readiness).
func (e *Edge) Ready() bool {
	if len(e.store.Environments()) > 0 {
		return true
	}
	for _, t := range e.tokens.All() {
		if t.Status == flags.TokenValidated || t.Status == flags.TokenTrusted {
			return false
		}
	}
	return true
}

// Validator returns the validator the API calls for unknown tokens.
func (e *Edge) Validator() flags.TokenValidator { return e.validator }

// Tokens returns the token cache.
func (e *Edge) Tokens() *flags.TokenCache { return e.tokens }

// Client returns the upstream client (for the metrics forwarder).
func (e *Edge) Client() *Client { return e.client }

// Refreshes returns the refresh status of every refreshed token.
func (e *Edge) Refreshes() []TokenRefresh { return e.refresh.refreshes() }

// TokenFor returns a client token that refreshes env, preferring one that
// sees all projects: the token to post env's metrics with.
func (e *Edge) TokenFor(env string) (string, bool) { return e.refresh.tokenFor(env) }

// Shutdown stops the background work, waits for it (bounded by ctx) and
// saves the state a last time. It may be called once; later calls return
// nil.
func (e *Edge) Shutdown(ctx context.Context) error {
	var err error
	e.down.Do(func() { err = e.shutdown(ctx) })
	return err
}

func (e *Edge) shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() { e.shutdownLoops(); close(done) }()
	var waitErr error
	select {
	case <-done:
	case <-ctx.Done():
		waitErr = fmt.Errorf("upstream: waiting for background work: %w", ctx.Err())
	}
	var saveErr error
	if err := e.persist(ctx); err != nil {
		saveErr = fmt.Errorf("upstream: final persist: %w", err)
	}
	e.client.CloseIdleConnections()
	return errors.Join(waitErr, saveErr)
}

func (e *Edge) shutdownLoops() {
	e.stop()
	e.wg.Wait()
}
