package flags

import (
	"slices"
	"strconv"
	"strings"
)

// cflag is one compiled feature.
type cflag struct {
	name       string
	project    string
	enabled    bool
	impression bool
	// static is +1 when the flag is on for every context (enabled, no
	// strategies, no dependencies), -1 when it is off for every context.
	static     int8
	strategies []cstrategy
	// hasStratVariants is true when a strategy carries variants.
	hasStratVariants bool
	variants         *cvariants
	deps             []cdep
	// frags are the pre-serialised EvaluatedToggle answers: fragOff is the
	// disabled toggle, fragOn the enabled one without variant, and every
	// variant's frag index points into frags.
	frags [][]byte
	// client is the feature's /api/client/features JSON.
	client []byte
	src    *Feature
	// warns are the warnings compiling the strategies gave (those of the
	// dependencies depend on the plan and are made again by CompileFrom).
	warns []string
}

const (
	fragOff = 0
	fragOn  = 1
)

// cdep is a compiled dependency on another flag of the plan.
type cdep struct {
	parent      int32 // -1: unknown parent
	wantEnabled bool
	variants    []string // nil: no variant requirement
}

// Compile compiles cf into a Plan. It never fails: a strategy or constraint
// that cannot be compiled (a bad regex or CIDR, an unknown operator or
// strategy, an unknown segment) evaluates to false and is reported by
// Plan.Warnings. cf must not be modified afterwards.
func Compile(cf *ClientFeatures) *Plan { return compile(nil, cf) }

// CompileFrom compiles cf as Compile does, reusing what prev compiled for
// every feature whose source is unchanged: equal to prev's feature of the
// same name (see featureEqual) with every segment its strategies
// reference unchanged. Only new and changed features are compiled and
// serialised again; dependencies are resolved against cf in every case.
// The result is identical to Compile(cf). prev may be nil; neither prev
// nor its source is modified, and cf must not be modified afterwards.
func CompileFrom(prev *Plan, cf *ClientFeatures) *Plan { return compile(prev, cf) }

func compile(prev *Plan, cf *ClientFeatures) *Plan {
	if cf == nil {
		cf = &ClientFeatures{Version: 2}
	}
	p := &Plan{src: cf}

	// Sort by name; when names repeat the last one wins, as in Edge.
	order := make([]int, len(cf.Features))
	for i := range order {
		order[i] = i
	}
	// Upstream payloads (and merged states) usually come sorted already.
	if !slices.IsSortedFunc(cf.Features, func(a, b Feature) int { return strings.Compare(a.Name, b.Name) }) {
		slices.SortStableFunc(order, func(a, b int) int {
			return strings.Compare(cf.Features[a].Name, cf.Features[b].Name)
		})
	}
	kept := order[:0]
	for i, fi := range order {
		if i+1 < len(order) && cf.Features[order[i+1]].Name == cf.Features[fi].Name {
			continue
		}
		kept = append(kept, fi)
	}

	rc := &regexCache{}
	if prev != nil {
		rc.parent = prev.rc
	}
	p.rc = rc
	segs := make(map[int][]cconstraint, len(cf.Segments))
	for i := range cf.Segments {
		s := &cf.Segments[i]
		warn := func(msg string) {
			p.warnings = append(p.warnings, "segment "+strconv.Itoa(s.ID)+": "+msg)
		}
		cs := make([]cconstraint, 0, len(s.Constraints))
		for j := range s.Constraints {
			cs = append(cs, compileConstraint(&s.Constraints[j], rc, warn))
		}
		segs[s.ID] = cs
	}

	p.flags = make([]cflag, len(kept))
	p.index = make(map[string]int32, len(kept))
	for i, fi := range kept {
		p.index[cf.Features[fi].Name] = int32(i)
	}
	// reused[i]: flags[i] comes from prev, frags and client JSON included.
	var reused []bool
	changedSeg := changedSegments(prev, cf)
	if prev != nil {
		reused = make([]bool, len(kept))
	}
	fresh := len(kept)
	for i, fi := range kept {
		src := &cf.Features[fi]
		if reused != nil {
			if j := prev.lookup(src.Name); j >= 0 && !usesSegment(src, changedSeg) && featureEqual(prev.flags[j].src, src) {
				p.reuseFlag(&p.flags[i], &prev.flags[j], src)
				reused[i] = true
				fresh--
				continue
			}
		}
		p.compileFlag(&p.flags[i], src, segs, rc)
	}
	buf := make([]byte, 0, 320*fresh)
	spans := make([][]span, len(p.flags))
	for i := range p.flags {
		if reused == nil || !reused[i] {
			buf, spans[i] = p.buildFragments(buf, &p.flags[i])
		}
	}
	for i := range p.flags {
		if reused == nil || !reused[i] {
			p.flags[i].frags = fragSlices(buf, spans[i])
		}
	}
	p.buildClientJSON(reused, fresh)
	rc.flatten()
	all := &Scope{plan: p, idx: make([]int32, len(p.flags)), in: make([]uint64, (len(p.flags)+63)/64)}
	for i := range p.flags {
		all.idx[i] = int32(i)
		all.in[i/64] |= 1 << (i % 64)
	}
	p.all = all
	return p
}

func (p *Plan) compileFlag(f *cflag, src *Feature, segs map[int][]cconstraint, rc *regexCache) {
	warn := func(msg string) {
		p.warnings = append(p.warnings, "feature "+strconv.Quote(src.Name)+": "+msg)
	}
	f.name = src.Name
	f.src = src
	f.project = src.Project
	if f.project == "" {
		f.project = "default"
	}
	f.enabled = src.Enabled
	f.impression = src.ImpressionData
	w0 := len(p.warnings)
	for i := range src.Strategies {
		cs := compileStrategy(&src.Strategies[i], src.Name, segs, rc, warn)
		if cs.variants != nil {
			f.hasStratVariants = true
		}
		f.strategies = append(f.strategies, cs)
	}
	stick := ""
	if len(src.Variants) > 0 {
		stick = src.Variants[0].Stickiness
	}
	f.variants = compileVariants(src.Variants, variantStickiness(stick), src.Name+":")
	if len(p.warnings) > w0 {
		f.warns = slices.Clip(slices.Clone(p.warnings[w0:]))
	}
	p.compileDeps(f, src)
}

// reuseFlag makes f the flag prev compiled from a source equal to src,
// with its dependencies resolved in p.
func (p *Plan) reuseFlag(f, prev *cflag, src *Feature) {
	*f = *prev
	f.src = src
	f.deps = nil
	p.warnings = append(p.warnings, f.warns...)
	p.compileDeps(f, src)
}

// compileDeps resolves the dependencies of src against p and decides
// whether f is static.
func (p *Plan) compileDeps(f *cflag, src *Feature) {
	warn := func(msg string) {
		p.warnings = append(p.warnings, "feature "+strconv.Quote(src.Name)+": "+msg)
	}
	f.static = 0
	for _, d := range src.Dependencies {
		cd := cdep{parent: p.lookup(d.Feature), wantEnabled: d.Enabled == nil || *d.Enabled, variants: d.Variants}
		if cd.parent < 0 {
			warn("depends on unknown feature " + strconv.Quote(d.Feature) + "; it evaluates to false")
		}
		f.deps = append(f.deps, cd)
	}
	switch {
	case !f.enabled:
		f.static = -1
	case len(f.deps) == 0 && len(f.strategies) == 0:
		f.static = 1
	case len(f.deps) == 0 && allFalse(f.strategies):
		f.static = -1
	}
}

func allFalse(ss []cstrategy) bool {
	for i := range ss {
		if ss[i].kind != stratFalse {
			return false
		}
	}
	return true
}
