package upstream

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/brink-edge/brink/flags"
)

// DefaultMaxInvalidTokens bounds how many invalid tokens a Validator
// remembers, so a client cycling random tokens cannot grow the cache
// without end; past it, invalid tokens are answered but not cached.
const DefaultMaxInvalidTokens = 10_000

// validateBatch is the most tokens sent in one /edge/validate request
// (about 100 bytes each, well under Unleash's 100 KiB body limit).
const validateBatch = 500

// Validator validates tokens the token cache does not know against the
// upstream's /edge/validate and records the answers in the cache. A newly
// validated client token is registered for feature refresh and its
// features are fetched before Validate returns; frontend tokens are only
// served. It is safe for concurrent use.
type Validator struct {
	client     *Client
	tokens     *flags.TokenCache
	refresh    *refresher
	timeout    time.Duration
	maxInvalid int
	log        *slog.Logger
	life       context.Context // the Edge's lifetime
	wg         *sync.WaitGroup

	mu      sync.Mutex
	calls   map[string]*validation
	invalid int // invalid tokens this Validator cached
}

// validation is one upstream validation in flight, shared by every caller
// asking for the same token.
type validation struct {
	done chan struct{}
	tok  flags.Token
	err  error
}

var _ flags.TokenValidator = (*Validator)(nil)

// Validate returns what the upstream says of raw. A token the cache knows
// (valid, invalid or trusted) is answered from it. A token not in the
// Unleash format is invalid without asking (and not cached). Otherwise
// the upstream is asked once, however many callers ask at the same time;
// valid and invalid answers are cached, and a client token is registered
// for refresh and hydrated. When the upstream cannot be asked, the token
// comes back TokenUnknown, uncached, with the error.
func (v *Validator) Validate(ctx context.Context, raw string) (flags.Token, error) {
	if t, ok := v.tokens.Get(raw); ok && t.Status != flags.TokenUnknown {
		return t, nil
	}
	parsed, err := flags.ParseToken(raw)
	if err != nil {
		return flags.Token{Raw: raw, Status: flags.TokenInvalid}, nil
	}
	parsed.Raw = raw
	v.mu.Lock()
	c := v.calls[raw]
	if c == nil {
		c = &validation{done: make(chan struct{})}
		v.calls[raw] = c
		v.wg.Add(1)
		go v.run(parsed, c)
	}
	v.mu.Unlock()
	select {
	case <-c.done:
		return c.tok, c.err
	case <-ctx.Done():
		return flags.Token{Raw: raw, Status: flags.TokenUnknown}, ctx.Err()
	}
}

// run asks the upstream about one token and finishes c.
func (v *Validator) run(parsed flags.Token, c *validation) {
	defer v.wg.Done()
	defer func() {
		v.mu.Lock()
		delete(v.calls, parsed.Raw)
		v.mu.Unlock()
		close(c.done)
	}()
	ctx, cancel := context.WithTimeout(v.life, v.timeout)
	defer cancel()
	valid, err := v.client.ValidateTokens(ctx, []string{parsed.Raw})
	if err != nil {
		v.log.Warn("cannot validate a token upstream", "token", parsed.Anonymised(), "err", err)
		c.tok, c.err = flags.Token{Raw: parsed.Raw, Status: flags.TokenUnknown}, err
		return
	}
	c.tok = v.record(parsed, valid)
	if c.tok.Status == flags.TokenValidated && c.tok.Type == flags.TokenClient {
		hctx, hcancel := context.WithTimeout(v.life, v.client.cfg.RequestTimeout+v.client.cfg.SocketTimeout)
		defer hcancel()
		v.refresh.register(c.tok)
		v.refresh.hydrate(hctx, c.tok)
	}
}

// record caches what the upstream said of parsed, given the tokens it
// confirmed, and returns the cached token.
func (v *Validator) record(parsed flags.Token, valid []flags.Token) flags.Token {
	i := slices.IndexFunc(valid, func(t flags.Token) bool { return t.Raw == parsed.Raw })
	if i < 0 {
		t := parsed
		t.Status = flags.TokenInvalid
		v.mu.Lock()
		keep := v.invalid < v.maxInvalid
		if keep {
			v.invalid++
		}
		v.mu.Unlock()
		if keep {
			v.tokens.Add(t)
		}
		return t
	}
	t := valid[i]
	if t.Environment == "" {
		t.Environment = parsed.Environment
	}
	if len(t.Projects) == 0 {
		t.Projects = parsed.Projects
	}
	v.tokens.Add(t)
	return t
}

// validateAll asks the upstream about raws, in batches, and records every
// answer like Validate. It returns the validated tokens, and an error
// when a batch could not be asked (its tokens are left unrecorded).
func (v *Validator) validateAll(ctx context.Context, raws []string) ([]flags.Token, error) {
	var out []flags.Token
	var firstErr error
	for chunk := range slices.Chunk(raws, validateBatch) {
		cctx, cancel := context.WithTimeout(ctx, v.timeout)
		valid, err := v.client.ValidateTokens(cctx, chunk)
		cancel()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, raw := range chunk {
			parsed, perr := flags.ParseToken(raw)
			if perr != nil {
				continue
			}
			parsed.Raw = raw
			if t := v.record(parsed, valid); t.Status == flags.TokenValidated {
				out = append(out, t)
			}
		}
	}
	return out, firstErr
}

// revalidate re-sends every validated token upstream: those it no longer
// confirms become invalid and leave the refresh set; confirmed client
// tokens are registered for refresh again (a no-op unless an upstream 401
// had dropped them). It returns the first error of a batch that could not
// be asked; those tokens are kept as they were.
func (v *Validator) revalidate(ctx context.Context) error {
	var raws []string
	for _, t := range v.tokens.All() {
		if t.Status == flags.TokenValidated {
			raws = append(raws, t.Raw)
		}
	}
	if len(raws) == 0 {
		return nil
	}
	var firstErr error
	for chunk := range slices.Chunk(raws, validateBatch) {
		cctx, cancel := context.WithTimeout(ctx, v.timeout)
		valid, err := v.client.ValidateTokens(cctx, chunk)
		cancel()
		if err != nil {
			v.log.Warn("cannot revalidate tokens upstream; keeping them", "tokens", len(chunk), "err", err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, raw := range chunk {
			i := slices.IndexFunc(valid, func(t flags.Token) bool { return t.Raw == raw })
			if i < 0 {
				old, _ := v.tokens.Get(raw)
				old.Status = flags.TokenInvalid
				v.tokens.Add(old)
				v.refresh.remove(raw)
				v.log.Info("token no longer valid upstream", "token", old.Anonymised())
				continue
			}
			t := valid[i]
			if old, ok := v.tokens.Get(raw); ok {
				if t.Environment == "" {
					t.Environment = old.Environment
				}
				if len(t.Projects) == 0 {
					t.Projects = old.Projects
				}
			}
			v.tokens.Add(t)
			if t.Type == flags.TokenClient {
				v.refresh.register(t)
			}
		}
	}
	return firstErr
}
