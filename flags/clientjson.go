package flags

// AppendClientFeatures appends the /api/client/features body for the
// features of sc: {"version":2,"features":[...],"segments":[...],"query":...}.
// q is emitted as the query member (null when nil). Feature JSON is
// serialised once per Plan.
func (p *Plan) AppendClientFeatures(dst []byte, sc *Scope, q *Query) []byte {
	return dst
}

// AppendClientFeature appends the JSON of the single feature name. It
// returns false, and dst unchanged, when the feature is unknown or outside
// sc.
func (p *Plan) AppendClientFeature(dst []byte, sc *Scope, name string) ([]byte, bool) {
	return dst, false
}
