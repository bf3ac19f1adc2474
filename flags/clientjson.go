package flags

import (
	"slices"
	"time"
)

// buildClientJSON serialises every feature, but those reused (true in
// reused, which may be nil) whose JSON is kept, and the segment list.
// fresh is the number of features to serialise.
func (p *Plan) buildClientJSON(reused []bool, fresh int) {
	buf := make([]byte, 0, 512*fresh)
	spans := make([]span, len(p.flags))
	for i := range p.flags {
		if reused != nil && reused[i] {
			continue
		}
		start := len(buf)
		buf = appendFeatureJSON(buf, p.flags[i].src)
		spans[i] = span{start, len(buf)}
	}
	for i := range p.flags {
		if reused == nil || !reused[i] {
			p.flags[i].client = buf[spans[i].start:spans[i].end:spans[i].end]
		}
	}
	if p.src.Segments != nil {
		var sb []byte
		sb = append(sb, `,"segments":[`...)
		for i := range p.src.Segments {
			if i > 0 {
				sb = append(sb, ',')
			}
			sb = appendSegmentJSON(sb, &p.src.Segments[i])
		}
		p.segJSON = append(sb, ']')
	}
	if p.src.Meta != nil {
		m := p.src.Meta
		var mb []byte
		mb = append(mb, `,"meta":{"etag":`...)
		mb = appendOptString(mb, m.ETag)
		mb = append(mb, `,"revisionId":`...)
		if m.RevisionID != nil {
			mb = appendInt(mb, *m.RevisionID)
		} else {
			mb = append(mb, "null"...)
		}
		mb = append(mb, `,"queryHash":`...)
		mb = appendOptString(mb, m.QueryHash)
		p.metaJSON = append(mb, '}')
	}
}

func appendOptString(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, *s)
}

// AppendClientFeatures appends the /api/client/features body for the
// features of sc (nil: every feature), as Edge writes it:
// {"version":2,"features":[...],"segments":[...],"query":{...}}. The
// segments are those of the source payload (omitted when it had none), q
// is written as the query member (null when nil), and the source meta
// follows when present. Feature JSON is serialised once per Plan.
func (p *Plan) AppendClientFeatures(dst []byte, sc *Scope, q *Query) []byte {
	if sc == nil {
		sc = p.all
	}
	v := p.src.Version
	if v == 0 {
		v = 2
	}
	dst = append(dst, `{"version":`...)
	dst = appendInt(dst, v)
	dst = append(dst, `,"features":[`...)
	for n, i := range sc.idx {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, p.flags[i].client...)
	}
	dst = append(dst, ']')
	dst = append(dst, p.segJSON...)
	dst = append(dst, `,"query":`...)
	dst = appendQueryJSON(dst, q)
	dst = append(dst, p.metaJSON...)
	return append(dst, '}')
}

// AppendClientFeature appends the JSON of the single feature name. It
// returns false, and dst unchanged, when the feature is unknown or outside
// sc (nil sc: every feature).
func (p *Plan) AppendClientFeature(dst []byte, sc *Scope, name string) ([]byte, bool) {
	i := p.lookup(name)
	if i < 0 || (sc != nil && !sc.has(i)) {
		return dst, false
	}
	return append(dst, p.flags[i].client...), true
}

// appendQueryJSON writes q as Edge does (absent members omitted,
// inlineSegmentConstraints always written), or null.
func appendQueryJSON(dst []byte, q *Query) []byte {
	if q == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	comma := false
	key := func(k string) {
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		dst = append(dst, k...)
	}
	if q.Tags != nil {
		key(`"tags":[`)
		for i, t := range q.Tags {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendStrings(dst, t)
		}
		dst = append(dst, ']')
	}
	if q.Projects != nil {
		key(`"projects":`)
		dst = appendStrings(dst, q.Projects)
	}
	if q.NamePrefix != "" {
		key(`"namePrefix":`)
		dst = appendJSONString(dst, q.NamePrefix)
	}
	if q.Environment != "" {
		key(`"environment":`)
		dst = appendJSONString(dst, q.Environment)
	}
	key(`"inlineSegmentConstraints":`)
	dst = appendBool(dst, q.InlineSegmentConstraints)
	return append(dst, '}')
}

func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

// appendFeatureJSON writes f in Edge's member order: name, type,
// description, createdAt, lastSeenAt, enabled, stale, impressionData,
// project, strategies, variants, dependencies.
func appendFeatureJSON(dst []byte, f *Feature) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, f.Name)
	if f.Type != "" {
		dst = append(dst, `,"type":`...)
		dst = appendJSONString(dst, f.Type)
	}
	if f.Description != "" {
		dst = append(dst, `,"description":`...)
		dst = appendJSONString(dst, f.Description)
	}
	if f.CreatedAt != nil {
		dst = append(dst, `,"createdAt":`...)
		dst = appendJSONString(dst, normalizeTimestamp(*f.CreatedAt))
	}
	if f.LastSeenAt != nil {
		dst = append(dst, `,"lastSeenAt":`...)
		dst = appendJSONString(dst, normalizeTimestamp(*f.LastSeenAt))
	}
	dst = append(dst, `,"enabled":`...)
	dst = appendBool(dst, f.Enabled)
	dst = append(dst, `,"stale":`...)
	dst = appendBool(dst, f.Stale)
	dst = append(dst, `,"impressionData":`...)
	dst = appendBool(dst, f.ImpressionData)
	if f.Project != "" {
		dst = append(dst, `,"project":`...)
		dst = appendJSONString(dst, f.Project)
	}
	if f.Strategies != nil {
		dst = append(dst, `,"strategies":[`...)
		for i := range f.Strategies {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendStrategyJSON(dst, &f.Strategies[i])
		}
		dst = append(dst, ']')
	}
	if f.Variants != nil {
		dst = append(dst, `,"variants":[`...)
		for i := range f.Variants {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendVariantJSON(dst, &f.Variants[i])
		}
		dst = append(dst, ']')
	}
	if f.Dependencies != nil {
		dst = append(dst, `,"dependencies":[`...)
		for i := range f.Dependencies {
			d := &f.Dependencies[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"feature":`...)
			dst = appendJSONString(dst, d.Feature)
			if d.Enabled != nil {
				dst = append(dst, `,"enabled":`...)
				dst = appendBool(dst, *d.Enabled)
			}
			if d.Variants != nil {
				dst = append(dst, `,"variants":`...)
				dst = appendStrings(dst, d.Variants)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// normalizeTimestamp rewrites an RFC 3339 timestamp the way chrono
// serialises a DateTime<Utc>: UTC with "Z" and 0, 3, 6 or 9 fractional
// digits. Anything unparsable is kept as is.
func normalizeTimestamp(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	t = t.UTC()
	ns := t.Nanosecond()
	switch {
	case ns == 0:
		return t.Format("2006-01-02T15:04:05Z")
	case ns%1e6 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1e3 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	}
	return t.Format("2006-01-02T15:04:05.000000000Z")
}

// appendStrategyJSON writes s in Edge's order: name, sortOrder, segments,
// constraints, parameters (sorted keys), variants (always, [] when absent;
// strategy variants as name, weight, payload, stickiness).
func appendStrategyJSON(dst []byte, s *Strategy) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, s.Name)
	if s.SortOrder != nil {
		dst = append(dst, `,"sortOrder":`...)
		dst = appendInt(dst, *s.SortOrder)
	}
	if s.Segments != nil {
		dst = append(dst, `,"segments":[`...)
		for i, id := range s.Segments {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendInt(dst, id)
		}
		dst = append(dst, ']')
	}
	if s.Constraints != nil {
		dst = append(dst, `,"constraints":`...)
		dst = appendConstraintsJSON(dst, s.Constraints)
	}
	if s.Parameters != nil {
		dst = append(dst, `,"parameters":{`...)
		keys := make([]string, 0, len(s.Parameters))
		for k := range s.Parameters {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, s.Parameters[k])
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"variants":[`...)
	for i := range s.Variants {
		v := &s.Variants[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = appendJSONString(dst, v.Name)
		dst = append(dst, `,"weight":`...)
		dst = appendInt(dst, v.Weight)
		if v.Payload != nil {
			dst = append(dst, `,"payload":`...)
			dst = appendPayload(dst, v.Payload)
		}
		if v.Stickiness != "" {
			dst = append(dst, `,"stickiness":`...)
			dst = appendJSONString(dst, v.Stickiness)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendVariantJSON writes a feature variant: name, weight, weightType,
// stickiness, payload, overrides.
func appendVariantJSON(dst []byte, v *Variant) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, v.Name)
	dst = append(dst, `,"weight":`...)
	dst = appendInt(dst, v.Weight)
	if v.WeightType != "" {
		dst = append(dst, `,"weightType":`...)
		dst = appendJSONString(dst, v.WeightType)
	}
	if v.Stickiness != "" {
		dst = append(dst, `,"stickiness":`...)
		dst = appendJSONString(dst, v.Stickiness)
	}
	if v.Payload != nil {
		dst = append(dst, `,"payload":`...)
		dst = appendPayload(dst, v.Payload)
	}
	if v.Overrides != nil {
		dst = append(dst, `,"overrides":[`...)
		for i := range v.Overrides {
			o := &v.Overrides[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"contextName":`...)
			dst = appendJSONString(dst, o.ContextName)
			dst = append(dst, `,"values":`...)
			dst = appendStrings(dst, o.Values)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendConstraintsJSON writes constraints as contextName, operator,
// caseInsensitive, inverted, values, value.
func appendConstraintsJSON(dst []byte, cs []Constraint) []byte {
	dst = append(dst, '[')
	for i := range cs {
		c := &cs[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"contextName":`...)
		dst = appendJSONString(dst, c.ContextName)
		dst = append(dst, `,"operator":`...)
		dst = appendJSONString(dst, c.Operator)
		dst = append(dst, `,"caseInsensitive":`...)
		dst = appendBool(dst, c.CaseInsensitive)
		dst = append(dst, `,"inverted":`...)
		dst = appendBool(dst, c.Inverted)
		if c.Values != nil {
			dst = append(dst, `,"values":`...)
			dst = appendStrings(dst, c.Values)
		}
		if c.Value != "" {
			dst = append(dst, `,"value":`...)
			dst = appendJSONString(dst, c.Value)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendSegmentJSON writes a segment as Edge does: id and constraints only.
func appendSegmentJSON(dst []byte, s *Segment) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendInt(dst, s.ID)
	dst = append(dst, `,"constraints":`...)
	dst = appendConstraintsJSON(dst, s.Constraints)
	return append(dst, '}')
}
