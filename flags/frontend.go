package flags

// AppendFrontend appends the body of a frontend API answer
// ({"toggles":[...]}) for the features of sc evaluated for ctx, sorted by
// name: only the enabled ones, or all of them when all is true. It
// allocates nothing when dst has room.
func (p *Plan) AppendFrontend(dst []byte, sc *Scope, ctx *Context, all bool) []byte {
	return append(dst, `{"toggles":[]}`...)
}

// AppendFrontendFeature appends the evaluated toggle of the feature name
// (also when disabled). It returns false, and dst unchanged, when the
// feature is unknown or outside sc.
func (p *Plan) AppendFrontendFeature(dst []byte, sc *Scope, name string, ctx *Context) ([]byte, bool) {
	return dst, false
}
