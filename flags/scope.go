package flags

// Scope is the subset of a Plan's features one token may see: a project
// list and a name prefix. It is computed once per (projects, prefix) per
// Plan and is immutable.
type Scope struct {
	// idx are the plan indices of the features in scope, ascending (so
	// sorted by name).
	idx []int32
	// in has one bit per plan feature.
	in []uint64
}

// Len returns the number of features in sc.
func (sc *Scope) Len() int { return len(sc.idx) }

// Contains reports whether the feature name is in sc.
func (sc *Scope) Contains(name string) bool { return false }

// Scope returns the features of p visible to a token for projects (empty or
// containing "*" means all projects) and namePrefix (empty means all). The
// result is cached in p.
func (p *Plan) Scope(projects []string, namePrefix string) *Scope { return &Scope{} }
