package flags

import "strings"

// Scope is the subset of a Plan's features one token may see: a project
// list and a name prefix. It is computed once per (projects, prefix) per
// Plan and is immutable.
type Scope struct {
	plan *Plan
	// idx are the plan indices of the features in scope, ascending, so in
	// name order.
	idx []int32
	// in has one bit per plan feature.
	in []uint64
}

// Len returns the number of features in sc.
func (sc *Scope) Len() int { return len(sc.idx) }

// Contains reports whether the feature name is in sc.
func (sc *Scope) Contains(name string) bool {
	i := sc.plan.lookup(name)
	return i >= 0 && sc.has(i)
}

func (sc *Scope) has(i int32) bool { return sc.in[i/64]&(1<<(i%64)) != 0 }

// Scope returns the features of p visible to a token for projects (empty,
// or containing "*", means every project; a feature without project is in
// "default") and namePrefix (empty means every name). Each scope is
// computed once and cached in p; looking a cached one up allocates nothing
// unless the key exceeds 512 bytes. A Scope of another Plan must not be
// passed to p.
func (p *Plan) Scope(projects []string, namePrefix string) *Scope {
	allProjects := len(projects) == 0
	for _, pr := range projects {
		if pr == "*" {
			allProjects = true
			break
		}
	}
	if allProjects && namePrefix == "" {
		return p.all
	}
	var kb [512]byte
	key := kb[:0]
	if allProjects {
		key = append(key, "*\x00"...)
	} else {
		for _, pr := range projects {
			key = append(append(key, pr...), 0)
		}
	}
	key = append(append(key, 1), namePrefix...)
	if m := p.scopes.Load(); m != nil {
		if sc, ok := (*m)[string(key)]; ok {
			return sc
		}
	}
	sc := &Scope{plan: p, in: make([]uint64, (len(p.flags)+63)/64)}
	for i := range p.flags {
		f := &p.flags[i]
		if !strings.HasPrefix(f.name, namePrefix) {
			continue
		}
		if !allProjects && !containsString(projects, f.project) {
			continue
		}
		sc.idx = append(sc.idx, int32(i))
		sc.in[i/64] |= 1 << (i % 64)
	}
	p.scopeMu.Lock()
	defer p.scopeMu.Unlock()
	old := p.scopes.Load()
	if old != nil {
		if prev, ok := (*old)[string(key)]; ok {
			return prev
		}
	}
	next := make(map[string]*Scope, 1+lenMap(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[string(key)] = sc
	p.scopes.Store(&next)
	return sc
}

func lenMap(m *map[string]*Scope) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
