package flags

// emptyContext stands in for a nil *Context. It is never written.
var emptyContext Context

// IsEnabled reports whether the feature name is enabled for ctx; an
// unknown feature is disabled. A nil ctx is an empty context. It allocates
// nothing.
func (p *Plan) IsEnabled(name string, ctx *Context) bool {
	i := p.lookup(name)
	if i < 0 {
		return false
	}
	if ctx == nil {
		ctx = &emptyContext
	}
	on, _ := p.enabled(&p.flags[i], ctx)
	return on
}

// GetVariant returns the variant of the feature name for ctx: the
// "disabled" pseudo-variant (Enabled false) when the feature is unknown,
// disabled or resolves no variant; FeatureEnabled tells whether the feature
// itself is enabled. A nil ctx is an empty context. It allocates nothing.
func (p *Plan) GetVariant(name string, ctx *Context) VariantResult {
	i := p.lookup(name)
	if i < 0 {
		return VariantResult{Name: "disabled"}
	}
	if ctx == nil {
		ctx = &emptyContext
	}
	f := &p.flags[i]
	on, first := p.enabled(f, ctx)
	if !on {
		return VariantResult{Name: "disabled"}
	}
	vs, vi := p.variant(f, ctx, first, true)
	if vi < 0 {
		return VariantResult{Name: "disabled", FeatureEnabled: true}
	}
	v := &vs.vars[vi]
	return VariantResult{Name: v.name, Enabled: true, FeatureEnabled: true, Payload: v.payload}
}

// eval returns the fragment index of the flag's answer for ctx.
func (p *Plan) eval(f *cflag, ctx *Context) int {
	on, first := p.enabled(f, ctx)
	if !on {
		return fragOff
	}
	vs, vi := p.variant(f, ctx, first, true)
	if vi < 0 {
		return fragOn
	}
	return vs.vars[vi].frag
}

// enabled reports whether f is on for ctx and which strategy decided it
// (-1 when none did or f has no strategies).
func (p *Plan) enabled(f *cflag, ctx *Context) (bool, int) {
	switch f.static {
	case -1:
		return false, -1
	case 1:
		return true, -1
	}
	if len(f.deps) > 0 && !p.depsSatisfied(f, ctx) {
		return false, -1
	}
	if len(f.strategies) == 0 {
		return true, -1
	}
	for i := range f.strategies {
		if f.strategies[i].eval(ctx) {
			return true, i
		}
	}
	return false, -1
}

// variant picks f's variant for ctx as Edge does: the variants of the first
// matching strategy that carries variants, else (or when that list is empty)
// the feature variants. first is the strategy that enabled f; when
// evaluated is false the strategies were not evaluated yet.
func (p *Plan) variant(f *cflag, ctx *Context, first int, evaluated bool) (*cvariants, int) {
	if f.hasStratVariants {
		var sv *cvariants
		start := 0
		if evaluated {
			start = len(f.strategies) // nothing matched
			if first >= 0 {
				if f.strategies[first].variants != nil {
					sv = f.strategies[first].variants
				}
				start = first + 1
			}
		}
		for i := start; sv == nil && i < len(f.strategies); i++ {
			if s := &f.strategies[i]; s.variants != nil && s.eval(ctx) {
				sv = s.variants
			}
		}
		if sv != nil && len(sv.vars) > 0 {
			return sv, sv.resolve(ctx)
		}
	}
	return f.variants, f.variants.resolve(ctx)
}

// depsSatisfied checks f's dependencies as Edge does: every parent must
// exist, have no dependencies of its own, be enabled (or disabled when the
// dependency says enabled:false) and, when variants are listed, resolve to
// one of them (a parent that resolves no variant passes that check).
func (p *Plan) depsSatisfied(f *cflag, ctx *Context) bool {
	for i := range f.deps {
		d := &f.deps[i]
		if d.parent < 0 {
			return false
		}
		pf := &p.flags[d.parent]
		if len(pf.deps) > 0 {
			return false
		}
		on, first := p.enabled(pf, ctx)
		if len(d.variants) > 0 {
			vs, vi := p.variant(pf, ctx, first, on || pf.static == 1)
			if vi >= 0 && !containsString(d.variants, vs.vars[vi].name) {
				return false
			}
		}
		if on != d.wantEnabled {
			return false
		}
	}
	return true
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
