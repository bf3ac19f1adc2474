package flags

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultEventLogSize is the number of delta events an EventLog keeps, as
// Unleash Edge's delta cache (DELTA_CACHE_LIMIT).
const DefaultEventLogSize = 100

// EventFilter selects the delta events and hydration features one SDK
// token sees: features of its projects (empty, or containing "*", means
// every project; a feature without project is in "default") whose name
// starts with NamePrefix. Segment events are never filtered out.
type EventFilter struct {
	Projects   []string
	NamePrefix string
}

// allProjects reports whether f lets features of every project through.
func (f *EventFilter) allProjects() bool {
	return f == nil || len(f.Projects) == 0 || slices.Contains(f.Projects, "*")
}

// admits reports whether a feature event of name in project passes f.
func (f *EventFilter) admits(name, project string) bool {
	if f == nil {
		return true
	}
	if !strings.HasPrefix(name, f.NamePrefix) {
		return false
	}
	return f.allProjects() || slices.Contains(f.Projects, project)
}

// logEntry is one logged event: the event, what filters need of it and its
// JSON members after "eventId" (serialised once, when it is logged).
type logEntry struct {
	ev DeltaEvent
	// name and project (normalised, "default" when empty) of a feature
	// event; segment events have segment set.
	name, project string
	segment       bool
	// tail is `,"type":...}`: the event's JSON without its opening
	// `{"eventId":N`.
	tail []byte
}

// EventLog is the recent history of one environment's flag state as delta
// events with increasing EventIDs, bounded to its size (the oldest events
// are dropped), and the state (a Plan) the last event leads to. It lets
// the delta and streaming APIs tell a client what changed since the event
// id it last saw, or that it is too far behind and needs a hydration.
//
// Readers take an immutable EventView, lock-free; writers are serialised.
// Waiting for a change needs no polling: EventView.Changed is closed when a
// newer view replaces it. An EventLog is safe for concurrent use.
type EventLog struct {
	size int
	mu   sync.Mutex // serialises writers
	cur  atomic.Pointer[EventView]
}

// NewEventLog returns a log keeping size events (zero or less means
// DefaultEventLogSize) whose history starts at event id with the state
// plan: a hydration point, Since(id) is the empty list and anything older
// needs a hydration.
func NewEventLog(size, id int, plan *Plan) *EventLog {
	if size <= 0 {
		size = DefaultEventLogSize
	}
	l := &EventLog{size: size}
	l.cur.Store(&EventView{base: id, last: id, plan: plan, changed: make(chan struct{})})
	return l
}

// View returns the current state of the log.
func (l *EventLog) View() *EventView { return l.cur.Load() }

// LastID returns the id of the newest event (or of the hydration point).
func (l *EventLog) LastID() int { return l.View().last }

// Since returns the events newer than id, oldest first, and true; or nil
// and false when id is older than the events kept (or newer than the
// last), so the caller must send a hydration instead.
func (l *EventLog) Since(id int) ([]DeltaEvent, bool) { return l.View().Since(id) }

// Changed returns a channel closed when the log next changes.
func (l *EventLog) Changed() <-chan struct{} { return l.View().changed }

// Append logs events, which must not be hydrations, with the ids following
// LastID (their EventID is overwritten) and makes plan the state they lead
// to. A hydration event in events discards the history before it: the log
// restarts at the hydration's id. It returns the new LastID. Events and
// the Features and Segments they point to must not be modified afterwards.
func (l *EventLog) Append(plan *Plan, events []DeltaEvent) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := l.cur.Load().last + 1
	entries := make([]logEntry, 0, len(events))
	restart := -1
	for i := range events {
		e := events[i]
		e.EventID = next + i
		if e.Type == DeltaHydration {
			entries = entries[:0]
			restart = e.EventID
			continue
		}
		entries = append(entries, newLogEntry(&e, nil))
	}
	last := next + len(events) - 1
	if len(events) == 0 {
		last = next - 1
	}
	l.publishLocked(plan, entries, last, restart)
	return last
}

// publish logs entries (their EventIDs already assigned, ascending) and
// makes plan the current state. Store calls it under its own lock.
func (l *EventLog) publish(plan *Plan, entries []logEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	last := l.cur.Load().last
	if n := len(entries); n > 0 {
		last = entries[n-1].ev.EventID
	}
	l.publishLocked(plan, entries, last, -1)
}

// publishLocked installs the next view: the kept entries followed by the
// new ones, trimmed to size; restart >= 0 drops the kept ones and moves
// the base there.
func (l *EventLog) publishLocked(plan *Plan, entries []logEntry, last, restart int) {
	old := l.cur.Load()
	if old.closed {
		return
	}
	if len(entries) == 0 && restart < 0 {
		if plan != old.plan {
			v := *old
			v.plan = plan
			l.cur.Store(&v) // same changed channel: nothing to tell
		}
		return
	}
	base := old.base
	kept := old.entries
	if restart >= 0 {
		kept, base = nil, restart
	}
	all := make([]logEntry, 0, min(len(kept)+len(entries), l.size))
	if drop := len(kept) + len(entries) - l.size; drop > 0 {
		if drop >= len(kept) {
			if len(kept) > 0 {
				base = kept[len(kept)-1].ev.EventID
			}
			drop -= len(kept)
			kept = nil
			if drop > 0 {
				base = entries[drop-1].ev.EventID
				entries = entries[drop:]
			}
		} else {
			base = kept[drop-1].ev.EventID
			kept = kept[drop:]
		}
	}
	all = append(append(all, kept...), entries...)
	l.cur.Store(&EventView{entries: all, base: base, last: last, plan: plan, changed: make(chan struct{})})
	close(old.changed)
}

// close marks the log as ended (its environment was removed) and wakes its
// waiters; later appends are ignored.
func (l *EventLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	if old.closed {
		return
	}
	v := *old
	v.closed = true
	l.cur.Store(&v)
	close(old.changed) // also v.changed: a closed view stays "changed"
}

// EventView is one immutable state of an EventLog: the kept events, the
// ids they span and the flag state they lead to.
type EventView struct {
	// entries are the kept events, ascending by id, all newer than base.
	entries []logEntry
	// base is the newest id whose successors are all kept: the hydration
	// point or the last dropped event.
	base, last int
	plan       *Plan
	changed    chan struct{}
	closed     bool
}

// LastID returns the id of the newest event, or of the hydration point.
func (v *EventView) LastID() int { return v.last }

// Plan returns the flag state after the newest event.
func (v *EventView) Plan() *Plan { return v.plan }

// Changed returns a channel closed when the log has moved past v (or was
// closed).
func (v *EventView) Changed() <-chan struct{} { return v.changed }

// Closed reports whether the log ended: its environment was removed from
// the Store.
func (v *EventView) Closed() bool { return v.closed }

// Len returns the number of events kept.
func (v *EventView) Len() int { return len(v.entries) }

// covers reports whether the events after id are all kept.
func (v *EventView) covers(id int) bool { return id >= v.base && id <= v.last }

// after returns the index of the first entry newer than id.
func (v *EventView) after(id int) int {
	i, _ := slices.BinarySearchFunc(v.entries, id+1, func(e logEntry, id int) int { return e.ev.EventID - id })
	return i
}

// Since returns the events newer than id, oldest first, and true; or nil
// and false when the view does not hold every event after id (id is older
// than the kept events or newer than the last one): the caller must send a
// hydration. The events share their Feature and Segment with the log and
// must not be modified.
func (v *EventView) Since(id int) ([]DeltaEvent, bool) {
	if !v.covers(id) {
		return nil, false
	}
	rest := v.entries[v.after(id):]
	out := make([]DeltaEvent, len(rest))
	for i := range rest {
		out[i] = rest[i].ev
	}
	return out, true
}

// AppendSince appends the JSON of the events newer than id that pass f,
// comma-separated (no brackets), and returns the extended buffer, the
// number of events appended and true; or dst, 0 and false when a hydration
// is needed (see Since).
func (v *EventView) AppendSince(dst []byte, id int, f *EventFilter) ([]byte, int, bool) {
	if !v.covers(id) {
		return dst, 0, false
	}
	n := 0
	for i := v.after(id); i < len(v.entries); i++ {
		e := &v.entries[i]
		if !e.segment && !f.admits(e.name, e.project) {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"eventId":`...)
		dst = appendInt(dst, e.ev.EventID)
		dst = append(dst, e.tail...)
		n++
	}
	return dst, n, true
}

// AppendHydration appends the JSON of a hydration event with the view's
// LastID: the features of the state that pass f, in name order, and every
// segment: {"eventId":N,"type":"hydration","features":[...],"segments":[...]}.
func (v *EventView) AppendHydration(dst []byte, f *EventFilter) []byte {
	dst = append(dst, `{"eventId":`...)
	dst = appendInt(dst, v.last)
	dst = append(dst, `,"type":"hydration","features":[`...)
	p := v.plan
	if p != nil {
		var sc *Scope
		if f == nil {
			sc = p.all
		} else {
			sc = p.Scope(f.Projects, f.NamePrefix)
		}
		for n, i := range sc.idx {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, p.flags[i].client...)
		}
	}
	dst = append(dst, ']')
	if p != nil && len(p.segJSON) > 0 {
		dst = append(dst, p.segJSON...)
	} else {
		dst = append(dst, `,"segments":[]`...)
	}
	return append(dst, '}')
}

// Hydration returns the hydration event of the view's state for f (nil:
// everything), with the view's LastID. Its Features and Segments are those
// of the Plan's source and must not be modified.
func (v *EventView) Hydration(f *EventFilter) DeltaEvent {
	e := DeltaEvent{EventID: v.last, Type: DeltaHydration, Features: []Feature{}, Segments: []Segment{}}
	p := v.plan
	if p == nil {
		return e
	}
	var sc *Scope
	if f == nil {
		sc = p.all
	} else {
		sc = p.Scope(f.Projects, f.NamePrefix)
	}
	for _, i := range sc.idx {
		e.Features = append(e.Features, *p.flags[i].src)
	}
	if p.src.Segments != nil {
		e.Segments = p.src.Segments
	}
	return e
}

// newLogEntry makes the entry of e; featJSON, when not nil, is the
// pre-serialised JSON of e.Feature.
func newLogEntry(e *DeltaEvent, featJSON []byte) logEntry {
	le := logEntry{ev: *e}
	tail := make([]byte, 0, 64+len(featJSON))
	tail = append(tail, `,"type":`...)
	tail = appendJSONString(tail, e.Type)
	switch e.Type {
	case DeltaFeatureUpdated:
		if e.Feature != nil {
			le.name, le.project = e.Feature.Name, e.Feature.Project
			tail = append(tail, `,"feature":`...)
			if featJSON == nil {
				featJSON = appendFeatureJSON(nil, e.Feature)
			}
			tail = append(tail, featJSON...)
		}
	case DeltaFeatureRemoved:
		le.name, le.project = e.FeatureName, e.Project
		tail = append(tail, `,"featureName":`...)
		tail = appendJSONString(tail, e.FeatureName)
		if e.Project != "" {
			tail = append(tail, `,"project":`...)
			tail = appendJSONString(tail, e.Project)
		}
	case DeltaSegmentUpdated:
		le.segment = true
		if e.Segment != nil {
			tail = append(tail, `,"segment":`...)
			tail = appendSegmentJSON(tail, e.Segment)
		}
	case DeltaSegmentRemoved:
		le.segment = true
		tail = append(tail, `,"segmentId":`...)
		tail = appendInt(tail, e.SegmentID)
	default:
		le.segment = true // unknown types pass every filter
	}
	if le.project == "" {
		le.project = "default"
	}
	le.tail = append(tail, '}')
	return le
}

// featureSet is a feature list sorted by name without repeated names (the
// last one wins, as in Compile), with each feature's client JSON.
type featureSet struct {
	feats []*Feature
	json  [][]byte
}

func planFeatures(p *Plan) featureSet {
	if p == nil {
		return featureSet{}
	}
	fs := featureSet{feats: make([]*Feature, len(p.flags)), json: make([][]byte, len(p.flags))}
	for i := range p.flags {
		fs.feats[i] = p.flags[i].src
		fs.json[i] = p.flags[i].client
	}
	return fs
}

func sourceFeatures(cf *ClientFeatures) featureSet {
	if cf == nil {
		return featureSet{}
	}
	order := make([]int, len(cf.Features))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(cf.Features[a].Name, cf.Features[b].Name) })
	fs := featureSet{}
	var buf []byte
	for i, fi := range order {
		if i+1 < len(order) && cf.Features[order[i+1]].Name == cf.Features[fi].Name {
			continue
		}
		start := len(buf)
		buf = appendFeatureJSON(buf, &cf.Features[fi])
		fs.feats = append(fs.feats, &cf.Features[fi])
		// Earlier slices keep pointing at the array buf outgrew, whose
		// bytes are never written again.
		fs.json = append(fs.json, buf[start:len(buf):len(buf)])
	}
	return fs
}

// segmentSet maps segment ids to segments (the last of a repeated id wins)
// with their JSON.
type segmentSet map[int]segmentJSON

type segmentJSON struct {
	seg  *Segment
	json []byte
}

func segmentsOf(cf *ClientFeatures) segmentSet {
	if cf == nil {
		return nil
	}
	m := make(segmentSet, len(cf.Segments))
	for i := range cf.Segments {
		s := &cf.Segments[i]
		m[s.ID] = segmentJSON{s, appendSegmentJSON(nil, s)}
	}
	return m
}

// Diff returns the delta events that turn from into to (nil is an empty
// state), without event ids: segment-updated for new or changed segments
// (ascending id), then, in feature name order, feature-updated for new or
// changed features and feature-removed for features gone (a feature that
// moved to another project is removed from the old project and updated in
// the new one, so clients filtered by project see it go), then
// segment-removed. Features and segments compare by their client JSON. The
// events point into to and must not be modified.
func Diff(from, to *ClientFeatures) []DeltaEvent {
	entries := diff(sourceFeatures(from), sourceFeatures(to), segmentsOf(from), segmentsOf(to))
	out := make([]DeltaEvent, len(entries))
	for i := range entries {
		out[i] = entries[i].ev
	}
	return out
}

// diffPlans is Diff between compiled states, using their pre-serialised
// feature JSON.
func diffPlans(from, to *Plan) []logEntry {
	var fs, ts *ClientFeatures
	if from != nil {
		fs = from.src
	}
	if to != nil {
		ts = to.src
	}
	return diff(planFeatures(from), planFeatures(to), segmentsOf(fs), segmentsOf(ts))
}

func diff(of, nf featureSet, os, ns segmentSet) []logEntry {
	var out []logEntry
	ids := make([]int, 0, len(ns))
	for id, s := range ns {
		if o, ok := os[id]; !ok || string(o.json) != string(s.json) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		e := DeltaEvent{Type: DeltaSegmentUpdated, Segment: ns[id].seg}
		out = append(out, newLogEntry(&e, nil))
	}
	removed := func(f *Feature) {
		e := DeltaEvent{Type: DeltaFeatureRemoved, FeatureName: f.Name, Project: projectOf(f)}
		out = append(out, newLogEntry(&e, nil))
	}
	updated := func(f *Feature, js []byte) {
		e := DeltaEvent{Type: DeltaFeatureUpdated, Feature: f}
		out = append(out, newLogEntry(&e, js))
	}
	i, j := 0, 0
	for i < len(of.feats) || j < len(nf.feats) {
		switch {
		case j == len(nf.feats) || (i < len(of.feats) && of.feats[i].Name < nf.feats[j].Name):
			removed(of.feats[i])
			i++
		case i == len(of.feats) || nf.feats[j].Name < of.feats[i].Name:
			updated(nf.feats[j], nf.json[j])
			j++
		default:
			if string(of.json[i]) != string(nf.json[j]) {
				if projectOf(of.feats[i]) != projectOf(nf.feats[j]) {
					removed(of.feats[i])
				}
				updated(nf.feats[j], nf.json[j])
			}
			i++
			j++
		}
	}
	ids = ids[:0]
	for id := range os {
		if _, ok := ns[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		e := DeltaEvent{Type: DeltaSegmentRemoved, SegmentID: id}
		out = append(out, newLogEntry(&e, nil))
	}
	return out
}

// projectOf is the project of f, "default" when it has none.
func projectOf(f *Feature) string {
	if f.Project == "" {
		return "default"
	}
	return f.Project
}
