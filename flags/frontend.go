package flags

// buildFragments serialises every possible EvaluatedToggle answer of f into
// buf (shared by the plan) and returns where they are.
// Edge writes {"name","enabled","variant":{"name","enabled","payload"},
// "impression_data","impressionData"}, payload null when absent.
func (p *Plan) buildFragments(buf []byte, f *cflag) ([]byte, []span) {
	var spans []span
	add := func(enabled bool, vname string, venabled bool, payload *Payload) int {
		start := len(buf)
		buf = append(buf, `{"name":`...)
		buf = appendJSONString(buf, f.name)
		buf = append(buf, `,"enabled":`...)
		buf = appendBool(buf, enabled)
		buf = append(buf, `,"variant":{"name":`...)
		buf = appendJSONString(buf, vname)
		buf = append(buf, `,"enabled":`...)
		buf = appendBool(buf, venabled)
		buf = append(buf, `,"payload":`...)
		buf = appendPayload(buf, payload)
		buf = append(buf, `},"impression_data":`...)
		buf = appendBool(buf, f.impression)
		buf = append(buf, `,"impressionData":`...)
		buf = appendBool(buf, f.impression)
		buf = append(buf, '}')
		spans = append(spans, span{start, len(buf)})
		return len(spans) - 1
	}
	add(false, "disabled", false, nil)
	add(true, "disabled", false, nil)
	sets := []*cvariants{f.variants}
	for i := range f.strategies {
		if f.strategies[i].variants != nil {
			sets = append(sets, f.strategies[i].variants)
		}
	}
	for _, vs := range sets {
		for i := range vs.vars {
			vs.vars[i].frag = add(true, vs.vars[i].name, true, vs.vars[i].payload)
		}
	}
	return buf, spans
}

// span locates a fragment in a plan-wide buffer while it is being built.
type span struct{ start, end int }

// slices returns the fragments of spans in buf.
func fragSlices(buf []byte, spans []span) [][]byte {
	out := make([][]byte, len(spans))
	for i, s := range spans {
		out[i] = buf[s.start:s.end:s.end]
	}
	return out
}

func appendPayload(dst []byte, pl *Payload) []byte {
	if pl == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, pl.Type)
	dst = append(dst, `,"value":`...)
	dst = appendJSONString(dst, pl.Value)
	return append(dst, '}')
}

// AppendFrontend appends the body of a frontend API answer
// ({"toggles":[...]}) for the features of sc evaluated for ctx, sorted by
// name: only the enabled ones, or all of them when all is true. A nil sc
// means every feature, a nil ctx an empty context. It allocates nothing
// when dst has room; dst must not be shared with another goroutine while
// it runs.
func (p *Plan) AppendFrontend(dst []byte, sc *Scope, ctx *Context, all bool) []byte {
	if sc == nil {
		sc = p.all
	}
	if ctx == nil {
		ctx = &emptyContext
	}
	dst = append(dst, `{"toggles":[`...)
	first := true
	for _, i := range sc.idx {
		f := &p.flags[i]
		k := p.eval(f, ctx)
		if k == fragOff && !all {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, f.frags[k]...)
	}
	return append(dst, "]}"...)
}

// AppendFrontendFeature appends the evaluated toggle of the feature name
// (also when disabled). It returns false, and dst unchanged, when the
// feature is unknown or outside sc (nil sc: every feature).
func (p *Plan) AppendFrontendFeature(dst []byte, sc *Scope, name string, ctx *Context) ([]byte, bool) {
	i := p.lookup(name)
	if i < 0 || (sc != nil && !sc.has(i)) {
		return dst, false
	}
	if ctx == nil {
		ctx = &emptyContext
	}
	f := &p.flags[i]
	return append(dst, f.frags[p.eval(f, ctx)]...), true
}
