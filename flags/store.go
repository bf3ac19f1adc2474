package flags

import (
	"slices"
	"sync"
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
// Every environment published also has an EventLog (see Events): each
// Publish after the first appends the delta events between the previous
// state and the new one, for the delta and streaming APIs. Event ids
// increase across all environments of the Store and start at the Unix time
// in milliseconds of the first Publish, so ids handed out before a restart
// are older than those after it unless the earlier run logged more than a
// thousand events a second on average; clients holding one get a
// hydration. (Seconds were not enough: an edge sync that changes many
// flags logs many events at once, and a run that logged more events than
// it lived seconds handed out ids the next run reuses, leaving reconnecting
// SDKs silently stale: e2e TestStreamingSDK.) The ids exceed 32 bits; they
// travel as decimal strings in SSE ids and ETags.
//
// Store is safe for concurrent use; writers (Publish, Remove) are
// serialised.
type Store struct {
	// EventLogSize bounds the events kept per environment; zero means
	// DefaultEventLogSize. Set it before the first Publish.
	EventLogSize int

	envs    atomic.Pointer[map[string]*Snapshot]
	version atomic.Uint64
	logs    atomic.Pointer[logSet]

	mu      sync.Mutex // serialises writers
	eventID int        // the last event id handed out, under mu
}

// logSet is the immutable set of event logs by environment; changed is
// closed when a set with other logs replaces it.
type logSet struct {
	m       map[string]*EventLog
	changed chan struct{}
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
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := &Snapshot{Plan: plan, Version: s.version.Add(1), Loaded: time.Now(), Origin: origin, Projects: projects}
	old := s.envs.Load()
	next := make(map[string]*Snapshot, 1+lenSnapshots(old))
	var prev *Plan
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
		if p := (*old)[env]; p != nil {
			prev = p.Plan
		}
	}
	next[env] = snap
	set := s.logSet()
	if l := set.m[env]; l != nil {
		entries := diffPlans(prev, plan)
		for i := range entries {
			entries[i].ev.EventID = s.nextEventID()
		}
		l.publish(plan, entries)
	} else {
		s.setLogs(set, env, NewEventLog(s.EventLogSize, s.nextEventID(), plan))
	}
	s.envs.Store(&next)
	return snap
}

// nextEventID hands out the next event id, the first one being the Unix
// time (see Store).
func (s *Store) nextEventID() int {
	if s.eventID == 0 {
		s.eventID = int(time.Now().UnixMilli())
	}
	s.eventID++
	return s.eventID
}

func lenSnapshots(m *map[string]*Snapshot) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// logSet returns the current log set, creating an empty one.
func (s *Store) logSet() *logSet {
	for {
		if set := s.logs.Load(); set != nil {
			return set
		}
		s.logs.CompareAndSwap(nil, &logSet{m: map[string]*EventLog{}, changed: make(chan struct{})})
	}
}

// setLogs replaces set by a copy where env has l (nil: no log), under mu.
func (s *Store) setLogs(set *logSet, env string, l *EventLog) {
	m := make(map[string]*EventLog, len(set.m)+1)
	for k, v := range set.m {
		if k != env {
			m[k] = v
		}
	}
	if l != nil {
		m[env] = l
	}
	s.logs.Store(&logSet{m: m, changed: make(chan struct{})})
	close(set.changed)
}

// Events returns the event log of env (or of the fallback, as Load), or
// nil when none was published yet.
func (s *Store) Events(env string) *EventLog {
	set := s.logs.Load()
	if set == nil {
		return nil
	}
	if l, ok := set.m[env]; ok {
		return l
	}
	return set.m[""]
}

// EventsChanged returns a channel closed when an environment gets or loses
// its event log, so that Events may answer differently: a stream following
// the fallback's log learns that its environment now has its own.
func (s *Store) EventsChanged() <-chan struct{} { return s.logSet().changed }

// Remove drops the snapshot of env and ends its event log (see
// EventView.Closed).
func (s *Store) Remove(env string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if set := s.logs.Load(); set != nil {
		if l := set.m[env]; l != nil {
			l.close()
			s.setLogs(set, env, nil)
		}
	}
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
	s.envs.Store(&next)
}
