package flags

import (
	"sync"
	"sync/atomic"
)

// Plan is a ClientFeatures payload compiled for evaluation: everything that
// does not depend on the evaluation Context is decided once, in Compile,
// and every answer fragment is serialised once. A Plan is immutable and safe
// for concurrent use.
type Plan struct {
	src      *ClientFeatures
	flags    []cflag // sorted by name
	index    map[string]int32
	warnings []string
	all      *Scope
	// scopes maps a scope key to its Scope; copied on write under scopeMu
	// so lookups take no lock and allocate nothing.
	scopes   atomic.Pointer[map[string]*Scope]
	scopeMu  sync.Mutex
	segJSON  []byte // `,"segments":[...]`, empty when the source has none
	metaJSON []byte // `,"meta":{...}`, empty when the source has none
	// rc holds the regexes compiled for this plan (and those of the plan
	// it was compiled from); CompileFrom reads it, never writes it.
	rc *regexCache
}

// Warnings returns human-readable notes about what Compile could not
// compile (a bad regex, an unknown operator or strategy, ...). Such parts
// evaluate to false. The slice must not be modified.
func (p *Plan) Warnings() []string { return p.warnings }

// Source returns the payload p was compiled from. It must not be modified.
func (p *Plan) Source() *ClientFeatures { return p.src }

// Len returns the number of features in p.
func (p *Plan) Len() int { return len(p.flags) }

// lookup returns the index of the flag name, or -1.
func (p *Plan) lookup(name string) int32 {
	if i, ok := p.index[name]; ok {
		return i
	}
	return -1
}
