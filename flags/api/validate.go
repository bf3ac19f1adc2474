package api

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/brink-edge/brink/flags"
)

// Defaults of the dynamic token validation.
const (
	DefaultValidateTimeout = 5 * time.Second
	// maxPendingValidations bounds the distinct tokens being validated at
	// once; beyond it a new token is answered as pending (401) without
	// asking upstream, so a flood of made-up tokens cannot pile up
	// goroutines and upstream calls.
	maxPendingValidations = 1024
	// validateParallel bounds the upstream validations one /edge/validate
	// request runs at once.
	validateParallel = 16
)

var (
	errValidateTimeout = errors.New("api: token validation timed out")
	errValidateBusy    = errors.New("api: too many token validations pending")
)

var (
	validationsValid   = metrics.NewCounter(`brink_api_token_validations_total{result="valid"}`)
	validationsInvalid = metrics.NewCounter(`brink_api_token_validations_total{result="invalid"}`)
	validationsUnknown = metrics.NewCounter(`brink_api_token_validations_total{result="unknown"}`)
	validationsTimeout = metrics.NewCounter(`brink_api_token_validations_total{result="timeout"}`)
	validationsBusy    = metrics.NewCounter(`brink_api_token_validations_total{result="busy"}`)
)

// validations runs Config.Validator for tokens the cache does not know,
// one call per token at a time: concurrent requests with the same new
// token wait for the same answer. A caller waits at most timeout, whatever
// the validator does with its context.
type validations struct {
	v       flags.TokenValidator
	timeout time.Duration
	mu      sync.Mutex
	pending map[string]*validation
}

// validation is one Validate call in flight; tok and err are set before
// done is closed.
type validation struct {
	done chan struct{}
	tok  flags.Token
	err  error
}

func newValidations(v flags.TokenValidator, timeout time.Duration) *validations {
	if timeout <= 0 {
		timeout = DefaultValidateTimeout
	}
	return &validations{v: v, timeout: timeout, pending: make(map[string]*validation)}
}

// validate returns what the validator says of raw (which must not alias a
// request buffer), or a TokenUnknown token when it takes longer than the
// timeout or too many validations are pending.
func (vs *validations) validate(raw string) (flags.Token, error) {
	vs.mu.Lock()
	c := vs.pending[raw]
	if c == nil {
		if len(vs.pending) >= maxPendingValidations {
			vs.mu.Unlock()
			validationsBusy.Inc()
			return flags.Token{Raw: raw, Status: flags.TokenUnknown}, errValidateBusy
		}
		c = &validation{done: make(chan struct{})}
		vs.pending[raw] = c
		go vs.run(raw, c)
	}
	vs.mu.Unlock()
	t := time.NewTimer(vs.timeout)
	defer t.Stop()
	select {
	case <-c.done:
		return c.tok, c.err
	case <-t.C:
		validationsTimeout.Inc()
		return flags.Token{Raw: raw, Status: flags.TokenUnknown}, errValidateTimeout
	}
}

func (vs *validations) run(raw string, c *validation) {
	ctx, cancel := context.WithTimeout(context.Background(), vs.timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			c.tok, c.err = flags.Token{Raw: raw, Status: flags.TokenUnknown}, errors.New("api: token validator panicked")
		}
		vs.mu.Lock()
		delete(vs.pending, raw)
		vs.mu.Unlock()
		close(c.done)
	}()
	c.tok, c.err = vs.v.Validate(ctx, raw)
	switch c.tok.Status {
	case flags.TokenValidated, flags.TokenTrusted:
		validationsValid.Inc()
	case flags.TokenInvalid:
		validationsInvalid.Inc()
	default:
		validationsUnknown.Inc()
	}
}

// validateMany validates the raw tokens (distinct, in the Unleash format)
// upstream, a few at a time, and returns their answers by raw string.
func (vs *validations) validateMany(raws []string) map[string]flags.Token {
	out := make(map[string]flags.Token, len(raws))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, validateParallel)
	for _, raw := range raws {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t, _ := vs.validate(raw)
			mu.Lock()
			out[raw] = t
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}
