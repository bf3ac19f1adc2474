package flags

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// mutateSync changes a few features (and sometimes a segment) of a copy of cf
// the way upstream changes do, sharing every untouched feature with cf.
func mutateSync(r *rand.Rand, cf *ClientFeatures, step int) *ClientFeatures {
	next := *cf
	next.Features = slices.Clone(cf.Features)
	next.Segments = slices.Clone(cf.Segments)
	for range 1 + r.IntN(6) {
		if len(next.Features) == 0 {
			break
		}
		i := r.IntN(len(next.Features))
		f := next.Features[i] // a copy; its slices are cloned before writes
		switch r.IntN(10) {
		case 0:
			f.Enabled = !f.Enabled
		case 1:
			f.ImpressionData = !f.ImpressionData
		case 2:
			f.Strategies = slices.Clone(f.Strategies)
			for j := range f.Strategies {
				p := map[string]string{}
				for k, v := range f.Strategies[j].Parameters {
					p[k] = v
				}
				p["rollout"] = strconv.Itoa(r.IntN(101))
				f.Strategies[j].Parameters = p
			}
		case 3: // removed (dependants lose their parent)
			next.Features = slices.Delete(next.Features, i, i+1)
			continue
		case 4: // added, maybe repeating a name (the last one wins)
			g := f
			if r.IntN(2) == 0 {
				g.Name = "new-" + strconv.Itoa(step) + "-" + strconv.Itoa(r.IntN(1000))
			}
			g.Enabled = !g.Enabled
			next.Features = append(next.Features, g)
		case 5: // depends on another (maybe unknown) feature
			parent := next.Features[r.IntN(len(next.Features))].Name
			if r.IntN(4) == 0 {
				parent = "missing-" + strconv.Itoa(step)
			}
			f.Dependencies = append(slices.Clip(f.Dependencies), Dependency{Feature: parent})
		case 6:
			f.Variants = append(slices.Clip(f.Variants), Variant{Name: "v" + strconv.Itoa(step), Weight: 1000, Payload: &Payload{Type: "string", Value: "x"}})
		case 7: // a bad regex: a warning
			f.Strategies = append(slices.Clip(f.Strategies), Strategy{Name: "default",
				Constraints: []Constraint{{ContextName: "userId", Operator: "REGEX", Value: "(" + strconv.Itoa(step)}}})
		case 8: // a segment changes, appears or goes
			if len(next.Segments) > 0 {
				j := r.IntN(len(next.Segments))
				switch r.IntN(3) {
				case 0:
					next.Segments = slices.Delete(next.Segments, j, j+1)
				case 1:
					s := next.Segments[j]
					s.Constraints = append(slices.Clip(s.Constraints), Constraint{ContextName: "tier", Operator: "NUM_GT", Value: strconv.Itoa(r.IntN(5))})
					next.Segments[j] = s
				default:
					next.Segments = append(next.Segments, Segment{ID: 1 + len(cf.Segments) + r.IntN(3), Constraints: []Constraint{{ContextName: "country", Operator: "IN", Values: []string{"NO"}}}})
				}
			}
		case 9: // references a segment that may not exist
			f.Strategies = append(slices.Clip(f.Strategies), Strategy{Name: "default", Segments: []int{1 + r.IntN(len(cf.Segments)+3)}})
		}
		next.Features[i] = f
	}
	return &next
}

// samePlans fails unless a and b answer everything alike.
func samePlans(t *testing.T, a, b *Plan, ctxs []*Context) {
	t.Helper()
	if x, y := a.AppendClientFeatures(nil, nil, &Query{Projects: []string{"*"}}), b.AppendClientFeatures(nil, nil, &Query{Projects: []string{"*"}}); !bytes.Equal(x, y) {
		t.Fatalf("client features differ:\n%s\n%s", x, y)
	}
	if !slices.Equal(a.Warnings(), b.Warnings()) {
		t.Fatalf("warnings differ:\n%q\n%q", a.Warnings(), b.Warnings())
	}
	for _, c := range ctxs {
		for _, all := range []bool{false, true} {
			if x, y := a.AppendFrontend(nil, nil, c, all), b.AppendFrontend(nil, nil, c, all); !bytes.Equal(x, y) {
				t.Fatalf("frontend differs:\n%s\n%s", x, y)
			}
		}
		sa, sb := a.Scope([]string{"default"}, ""), b.Scope([]string{"default"}, "")
		if x, y := a.AppendFrontend(nil, sa, c, true), b.AppendFrontend(nil, sb, c, true); !bytes.Equal(x, y) {
			t.Fatalf("scoped frontend differs:\n%s\n%s", x, y)
		}
		for i := range a.flags {
			n := a.flags[i].name
			if a.IsEnabled(n, c) != b.IsEnabled(n, c) || a.GetVariant(n, c) != b.GetVariant(n, c) {
				t.Fatalf("%s evaluates differently", n)
			}
		}
	}
}

// syncContexts are contexts whose answers are deterministic (a nil
// context makes default stickiness random).
func syncContexts() []*Context {
	c := DatasetContext()
	d := &Context{}
	d.Set("userId", "user-7")
	d.Set("sessionId", "42")
	d.SetProperty("tier", "1")
	return []*Context{c, d}
}

// TestCompileFromMatchesCompile compiles random change sequences both
// incrementally and afresh and compares every answer.
func TestCompileFromMatchesCompile(t *testing.T) {
	n, steps := 5000, 12
	if testing.Short() {
		n, steps = 500, 8
	}
	ctxs := syncContexts()
	for seed := range uint64(3) {
		r := rand.New(rand.NewPCG(seed, 7))
		cf := GenerateDataset(n, int64(seed)+1)
		prev := CompileFrom(nil, cf)
		samePlans(t, prev, Compile(cf), ctxs)
		for step := range steps {
			cf = mutateSync(r, cf, step)
			inc := CompileFrom(prev, cf)
			samePlans(t, inc, Compile(cf), ctxs)
			prev = inc
		}
	}
}

// TestCompileFromReuses checks that unchanged features keep their
// compiled form and serialisations, and changed ones do not.
func TestCompileFromReuses(t *testing.T) {
	cf := GenerateDataset(300, 1)
	p0 := Compile(cf)
	next := *cf
	next.Features = slices.Clone(cf.Features)
	next.Features[10].Enabled = !next.Features[10].Enabled
	p1 := CompileFrom(p0, &next)
	changed := p1.lookup(next.Features[10].Name)
	for i := range p1.flags {
		j := p0.lookup(p1.flags[i].name)
		same := &p1.flags[i].client[0] == &p0.flags[j].client[0] && &p1.flags[i].frags[0][0] == &p0.flags[j].frags[0][0]
		if same == (int32(i) == changed) {
			t.Fatalf("flag %d (%s): reused %v", i, p1.flags[i].name, same)
		}
	}
	// A changed segment recompiles the features that reference it.
	next2 := next
	next2.Segments = slices.Clone(next.Segments)
	next2.Segments[0].Constraints = []Constraint{{ContextName: "tier", Operator: "NUM_GT", Value: "100"}}
	p2 := CompileFrom(p1, &next2)
	samePlans(t, p2, Compile(&next2), syncContexts())
}

func BenchmarkCompileFrom(b *testing.B) {
	cf := GenerateDataset(5000, 1)
	prev := Compile(cf)
	next := *cf
	next.Features = slices.Clone(cf.Features)
	for i := 0; i < 5; i++ {
		next.Features[i*997].Enabled = !next.Features[i*997].Enabled
	}
	b.ReportAllocs()
	for b.Loop() {
		CompileFrom(prev, &next)
	}
}
