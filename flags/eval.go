package flags

// IsEnabled reports whether the feature name is enabled for ctx; an
// unknown feature is disabled. It allocates nothing.
func (p *Plan) IsEnabled(name string, ctx *Context) bool { return false }

// GetVariant returns the variant of the feature name for ctx: the
// "disabled" pseudo-variant when the feature is unknown, disabled or has no
// variants. It allocates nothing.
func (p *Plan) GetVariant(name string, ctx *Context) VariantResult {
	return VariantResult{Name: "disabled"}
}
