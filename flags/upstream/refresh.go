package upstream

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/brink-edge/brink/flags"
)

// maxFailures caps the backoff: a failing token is asked at most every
// interval × (1 + maxFailures).
const maxFailures = 10

// Modes of an environment's refresh.
const (
	modeUnknown   = iota // streaming not tried yet
	modePolling          // the upstream does not stream, or streaming is off
	modeStreaming        // an event stream delivered events
)

// refreshState is the refresh bookkeeping of one token of the refresh set.
type refreshState struct {
	tok           flags.Token
	etag          string
	next          time.Time
	lastRefreshed time.Time
	lastCheck     time.Time
	count         int
	revision      uint32
	failures      uint32
	// fetched: the upstream answered this token at least once (200 or 304).
	fetched bool
	// covers: the environment's state holds this token's features (fetched
	// or restored from persistence).
	covers bool
	// busy is closed when the fetch in flight ends; nil when none is.
	busy chan struct{}
	// streaming: an event stream delivers this token's features, so polling
	// skips it. view is the token's own feature set, to which stream deltas
	// apply; lastEventID is the id to resume the stream from.
	streaming    bool
	registered   bool
	streamCancel context.CancelFunc
	view         *flags.ClientFeatures
	lastEventID  string
	removed      bool
	// decoded is the upstream's last answer to this token, from which the
	// next one is decoded incrementally.
	decoded *flags.ClientFeatures
}

// envState is the upstream feature set of one environment.
type envState struct {
	// pub serialises merge, compile and publish of this environment.
	pub sync.Mutex
	src *flags.ClientFeatures // guarded by pub
	// plan is src compiled, from which the next state compiles
	// incrementally; guarded by pub.
	plan *flags.Plan
	mode int // guarded by refresher.mu
}

// refresher keeps the features of every environment fresh for the
// simplified set of client tokens registered with it.
type refresher struct {
	client    *Client
	store     *flags.Store
	interval  time.Duration
	streaming bool
	reconnect time.Duration
	log       *slog.Logger
	// life ends the background work (loops, streams, registrations); it
	// is the Edge's lifetime, cancelled by Shutdown.
	life context.Context
	wg   *sync.WaitGroup

	mu     sync.Mutex
	refs   map[string]*refreshState
	envs   map[string]*envState
	synced bool // the upstream delivered features since start
	wake   chan struct{}
}

func newRefresher(life context.Context, wg *sync.WaitGroup, c *Client, store *flags.Store, interval, reconnect time.Duration, streaming bool, log *slog.Logger) *refresher {
	return &refresher{
		client: c, store: store, interval: interval, streaming: streaming, reconnect: reconnect, log: log,
		life: life, wg: wg,
		refs: make(map[string]*refreshState),
		envs: make(map[string]*envState),
		wake: make(chan struct{}, 1),
	}
}

// register adds tok to the refresh set unless a token already in it
// subsumes tok; tokens tok subsumes leave the set. It reports whether tok
// was added. The edge registers itself upstream for tok once the upstream
// first answers tok's fetch.
func (r *refresher) register(tok flags.Token) bool {
	r.mu.Lock()
	added := r.addLocked(tok, time.Time{})
	r.mu.Unlock()
	if added {
		r.poke()
	}
	return added
}

// addLocked adds tok, due at next, to the simplified refresh set.
func (r *refresher) addLocked(tok flags.Token, next time.Time) bool {
	if _, ok := r.refs[tok.Raw]; ok {
		return false
	}
	for _, st := range r.refs {
		if st.tok.Subsumes(tok) {
			return false
		}
	}
	for raw, st := range r.refs {
		if tok.Subsumes(st.tok) {
			r.dropLocked(raw, st)
		}
	}
	r.refs[tok.Raw] = &refreshState{tok: tok, next: next}
	if _, ok := r.envs[tok.Environment]; !ok {
		mode := modeUnknown
		if !r.streaming {
			mode = modePolling
		}
		r.envs[tok.Environment] = &envState{mode: mode}
	}
	return true
}

func (r *refresher) dropLocked(raw string, st *refreshState) {
	st.removed = true
	if st.streamCancel != nil {
		st.streamCancel()
	}
	delete(r.refs, raw)
}

func (r *refresher) registerUpstream(tok flags.Token) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := r.client.Register(r.life, tok.Raw, r.client.Registration(tok, time.Now()))
		if err != nil {
			r.log.Debug("registering upstream failed", "token", tok.Anonymised(), "err", err)
		}
	}()
}

// remove drops raw from the refresh set. When no token of its environment
// is left, the environment leaves the Store; otherwise the environment is
// republished with the projects the remaining tokens cover.
func (r *refresher) remove(raw string) {
	r.mu.Lock()
	st, ok := r.refs[raw]
	if !ok {
		r.mu.Unlock()
		return
	}
	env := st.tok.Environment
	r.dropLocked(raw, st)
	es := r.envs[env]
	left := r.coveringLocked(env)
	if len(r.tokensOfLocked(env)) == 0 {
		delete(r.envs, env)
		r.mu.Unlock()
		r.store.Remove(env)
		r.log.Info("no token left for environment; its features are dropped", "environment", env)
		return
	}
	r.mu.Unlock()
	if es == nil {
		return
	}
	es.pub.Lock()
	defer es.pub.Unlock()
	if snap := r.store.Environments()[env]; snap != nil {
		r.store.PublishProjects(env, snap.Plan, r.client.URL(), unionProjects(left))
	}
}

func (r *refresher) tokensOfLocked(env string) []flags.Token {
	var out []flags.Token
	for _, st := range r.refs {
		if st.tok.Environment == env {
			out = append(out, st.tok)
		}
	}
	return out
}

// coveringLocked returns the tokens of env whose features the state holds.
func (r *refresher) coveringLocked(env string) []flags.Token {
	var out []flags.Token
	for _, st := range r.refs {
		if st.tok.Environment == env && st.covers {
			out = append(out, st.tok)
		}
	}
	return out
}

// coverForLocked returns the token of the refresh set that refreshes tok's
// features: tok itself or the token that subsumes it.
func (r *refresher) coverForLocked(tok flags.Token) *refreshState {
	if st, ok := r.refs[tok.Raw]; ok {
		return st
	}
	for _, st := range r.refs {
		if st.tok.Subsumes(tok) {
			return st
		}
	}
	return nil
}

// hydrate fetches the features of the token that refreshes tok unless
// they were fetched already; it waits for a fetch in flight.
func (r *refresher) hydrate(ctx context.Context, tok flags.Token) {
	r.mu.Lock()
	st := r.coverForLocked(tok)
	if st == nil || st.fetched {
		r.mu.Unlock()
		return
	}
	busy := st.busy
	r.mu.Unlock()
	if busy != nil {
		select {
		case <-busy:
		case <-ctx.Done():
		}
		return
	}
	r.refreshOne(ctx, st)
}

// due returns the tokens to poll now and when the next one is due.
func (r *refresher) due(now time.Time) ([]*refreshState, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*refreshState
	next := now.Add(r.interval)
	for _, st := range r.refs {
		if st.busy != nil || st.streaming {
			continue
		}
		if !st.next.After(now) {
			out = append(out, st)
		} else if st.next.Before(next) {
			next = st.next
		}
	}
	slices.SortFunc(out, func(a, b *refreshState) int { return a.next.Compare(b.next) })
	return out, next
}

// loop polls due tokens until ctx ends.
func (r *refresher) loop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.wake:
		}
		now := time.Now()
		todo, next := r.due(now)
		for _, st := range todo {
			if ctx.Err() != nil {
				return
			}
			r.refreshOne(ctx, st)
		}
		if len(todo) > 0 {
			_, next = r.due(time.Now())
		}
		wait := max(time.Until(next), 10*time.Millisecond)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// refreshOne polls the features of st once, unless a fetch is in flight.
func (r *refresher) refreshOne(ctx context.Context, st *refreshState) {
	r.mu.Lock()
	if st.busy != nil || st.removed {
		r.mu.Unlock()
		return
	}
	busy := make(chan struct{})
	st.busy = busy
	tok, etag, decoded := st.tok, st.etag, st.decoded
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		st.busy = nil
		r.mu.Unlock()
		close(busy)
	}()

	cf, _, newETag, notModified, err := r.client.fetchFeaturesFrom(ctx, tok.Raw, etag, decoded)
	now := time.Now()
	switch {
	case err == nil && notModified:
		r.mu.Lock()
		st.lastCheck, st.fetched = now, true
		r.succeededLocked(st, now)
		r.mu.Unlock()
	case err == nil:
		r.mu.Lock()
		streamed := st.streaming
		r.mu.Unlock()
		if !streamed { // else the stream, connected meanwhile, is fresher
			r.publish(tok, cf, now)
		}
		r.mu.Lock()
		st.etag, st.lastRefreshed, st.lastCheck, st.fetched, st.covers = newETag, now, now, true, true
		st.decoded = cf
		st.count = len(cf.Features)
		if cf.Meta != nil && cf.Meta.RevisionID != nil && *cf.Meta.RevisionID > 0 {
			st.revision = uint32(*cf.Meta.RevisionID)
		}
		r.synced = true
		r.succeededLocked(st, now)
		register := !st.registered && !st.removed
		st.registered = true
		startStream := false
		if es := r.envs[tok.Environment]; es != nil && es.mode != modePolling && !st.removed && !st.streaming {
			// The stream resumes from this poll's state: a fresh hydration.
			st.view, st.lastEventID = cf, ""
			startStream = st.streamCancel == nil
		}
		r.mu.Unlock()
		if register {
			r.registerUpstream(tok)
		}
		if startStream {
			r.startStream(st)
		}
	case errors.Is(err, ErrDenied):
		r.log.Warn("upstream denied a token's feature fetch; it is no longer refreshed", "token", tok.Anonymised(), "err", err)
		r.remove(tok.Raw)
	case ctx.Err() != nil:
		// Shutting down or the caller gave up: not the upstream's fault.
	default:
		r.mu.Lock()
		st.failures = min(st.failures+1, maxFailures)
		st.next = now.Add(r.interval * time.Duration(1+st.failures))
		failures := st.failures
		r.mu.Unlock()
		r.log.Warn("fetching features failed; backing off", "token", tok.Anonymised(), "failures", failures, "err", err)
	}
}

func (r *refresher) succeededLocked(st *refreshState, now time.Time) {
	if st.failures > 0 {
		st.failures--
	}
	st.next = now.Add(r.interval * time.Duration(1+st.failures))
}

// publish merges upd, fetched (or streamed) for tok, into the features of
// tok's environment, compiles them and publishes the result.
func (r *refresher) publish(tok flags.Token, upd *flags.ClientFeatures, now time.Time) {
	r.mu.Lock()
	es := r.envs[tok.Environment]
	r.mu.Unlock()
	if es == nil {
		return
	}
	es.pub.Lock()
	defer es.pub.Unlock()
	next := mergeFeatures(es.src, tok, upd)
	plan := flags.CompileFrom(es.plan, next)
	if w := plan.Warnings(); len(w) > 0 {
		r.log.Warn("some flags could not be compiled and evaluate to off", "environment", tok.Environment, "warnings", strings.Join(w, "; "))
	}
	r.mu.Lock()
	if r.envs[tok.Environment] != es { // the environment was dropped meanwhile
		r.mu.Unlock()
		return
	}
	covering := r.coveringLocked(tok.Environment)
	if !slices.ContainsFunc(covering, func(t flags.Token) bool { return t.Raw == tok.Raw }) {
		covering = append(covering, tok)
	}
	r.mu.Unlock()
	es.src, es.plan = next, plan
	r.store.PublishProjects(tok.Environment, plan, r.client.URL(), unionProjects(covering))
}

// restore installs persisted features for env, covering toks (registered
// for refresh, due now), unless the environment already has features.
func (r *refresher) restore(env string, cf *flags.ClientFeatures, toks []flags.Token) bool {
	r.mu.Lock()
	if es := r.envs[env]; es != nil && r.store.Environments()[env] != nil {
		r.mu.Unlock()
		return false
	}
	for _, t := range toks {
		r.addLocked(t, time.Time{})
	}
	for _, st := range r.refs {
		if st.tok.Environment == env {
			st.covers = true
		}
	}
	es := r.envs[env]
	if es == nil {
		es = &envState{mode: modePolling}
		if r.streaming {
			es.mode = modeUnknown
		}
		r.envs[env] = es
	}
	projects := unionProjects(r.coveringLocked(env))
	r.mu.Unlock()
	if len(toks) == 0 {
		projects = featureProjects(cf)
	}
	es.pub.Lock()
	defer es.pub.Unlock()
	plan := flags.CompileFrom(es.plan, cf)
	es.src, es.plan = cf, plan
	r.store.PublishProjects(env, plan, r.client.URL(), projects)
	return true
}

// featureProjects returns the projects of cf's features.
func featureProjects(cf *flags.ClientFeatures) []string {
	out := []string{}
	for i := range cf.Features {
		p := cf.Features[i].Project
		if p == "" {
			p = defaultProject
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// state returns the features of every environment and the last streamed
// event id of the streamed ones, for persistence. The feature sets are
// shared and must not be modified.
func (r *refresher) state() (map[string]*flags.ClientFeatures, map[string]uint32) {
	r.mu.Lock()
	envs := maps.Clone(r.envs)
	ids := make(map[string]uint32)
	for _, st := range r.refs {
		if id, ok := parseEventID(st.lastEventID); ok && id > ids[st.tok.Environment] {
			ids[st.tok.Environment] = id
		}
	}
	r.mu.Unlock()
	features := make(map[string]*flags.ClientFeatures, len(envs))
	for env, es := range envs {
		es.pub.Lock()
		if es.src != nil {
			features[env] = es.src
		}
		es.pub.Unlock()
	}
	return features, ids
}

// isSynced reports whether the upstream delivered features since start.
func (r *refresher) isSynced() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.synced
}

// tokenFor returns a token of the refresh set for env, preferring one
// that sees all projects.
func (r *refresher) tokenFor(env string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	best := ""
	for raw, st := range r.refs {
		if st.tok.Environment != env {
			continue
		}
		if st.tok.AllProjects() {
			return raw, true
		}
		if best == "" || raw < best {
			best = raw
		}
	}
	return best, best != ""
}
