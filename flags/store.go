package flags

import (
	"slices"
	"sync/atomic"
	"time"
)

// Snapshot is one published version of the flag state for an environment:
// the compiled Plan and where it came from. It is immutable.
type Snapshot struct {
	Plan *Plan
	// Version increases by one with every Publish on the Store.
	Version uint64
	// Loaded is when the state was published.
	Loaded time.Time
	// Origin says where the state came from (a file path, an upstream URL).
	Origin string
	// Projects are the projects whose flags the state holds, as fetched by
	// the tokens that filled it; nil means every project (offline mode: the
	// file is the whole truth). A token asking for a project outside it has
	// no data here yet.
	Projects []string
}

// Covers reports whether the snapshot holds every project tok may see.
func (s *Snapshot) Covers(tok *Token) bool {
	if s.Projects == nil || slices.Contains(s.Projects, "*") {
		return true
	}
	if len(tok.Projects) == 0 || tok.AllProjects() {
		return false
	}
	for _, p := range tok.Projects {
		if !slices.Contains(s.Projects, p) {
			return false
		}
	}
	return true
}

// Store holds the current Snapshot of every environment and swaps them
// atomically: readers never see a half-built state and never block.
//
// The snapshot published under the empty environment is the fallback for
// every environment without one of its own; offline mode publishes only
// that one, since all its tokens see the same features.
//
// Store is safe for concurrent use.
type Store struct {
	envs    atomic.Pointer[map[string]*Snapshot]
	version atomic.Uint64
}

// Load returns the snapshot for env (or the fallback), or nil when none was
// published yet.
func (s *Store) Load(env string) *Snapshot {
	m := s.envs.Load()
	if m == nil {
		return nil
	}
	if snap, ok := (*m)[env]; ok {
		return snap
	}
	return (*m)[""]
}

// Has reports whether a snapshot is published for env itself or as fallback.
func (s *Store) Has(env string) bool { return s.Load(env) != nil }

// Environments returns the environments with a snapshot of their own and
// the fallback under "" if one is set. The map must not be modified.
func (s *Store) Environments() map[string]*Snapshot {
	m := s.envs.Load()
	if m == nil {
		return nil
	}
	return *m
}

// Publish makes plan the current state of env and returns its snapshot.
func (s *Store) Publish(env string, plan *Plan, origin string) *Snapshot {
	return s.PublishProjects(env, plan, origin, nil)
}

// PublishProjects is Publish for a state that holds only the flags of
// projects (see Snapshot.Projects).
func (s *Store) PublishProjects(env string, plan *Plan, origin string, projects []string) *Snapshot {
	snap := &Snapshot{Plan: plan, Version: s.version.Add(1), Loaded: time.Now(), Origin: origin, Projects: projects}
	for {
		old := s.envs.Load()
		next := make(map[string]*Snapshot, 1)
		if old != nil {
			for k, v := range *old {
				next[k] = v
			}
		}
		next[env] = snap
		if s.envs.CompareAndSwap(old, &next) {
			return snap
		}
	}
}

// Remove drops the snapshot of env.
func (s *Store) Remove(env string) {
	for {
		old := s.envs.Load()
		if old == nil {
			return
		}
		if _, ok := (*old)[env]; !ok {
			return
		}
		next := make(map[string]*Snapshot, len(*old))
		for k, v := range *old {
			if k != env {
				next[k] = v
			}
		}
		if s.envs.CompareAndSwap(old, &next) {
			return
		}
	}
}
