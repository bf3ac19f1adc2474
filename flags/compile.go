package flags

// cflag is one compiled feature.
type cflag struct {
	name    string
	project string
}

// Compile compiles cf into a Plan. It never fails: a strategy or constraint
// that cannot be compiled (a bad regex or CIDR, an unknown operator or
// strategy) evaluates to false and is reported by Plan.Warnings. cf must not
// be modified afterwards.
func Compile(cf *ClientFeatures) *Plan {
	p := &Plan{src: cf, index: map[string]int32{}}
	return p
}
