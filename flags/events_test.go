package flags

import (
	"encoding/json"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustDecode(t testing.TB, src string) *ClientFeatures {
	t.Helper()
	cf, err := DecodeClientFeatures([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

// eventSummary is "type:name" (or "type:#id" for segments) of each event.
func eventSummary(events []DeltaEvent) string {
	var out []string
	for _, e := range events {
		switch e.Type {
		case DeltaFeatureUpdated:
			out = append(out, e.Type+":"+e.Feature.Name)
		case DeltaFeatureRemoved:
			out = append(out, e.Type+":"+e.FeatureName+"@"+e.Project)
		case DeltaSegmentUpdated:
			out = append(out, e.Type+":#"+strconv.Itoa(e.Segment.ID))
		case DeltaSegmentRemoved:
			out = append(out, e.Type+":#"+strconv.Itoa(e.SegmentID))
		default:
			out = append(out, e.Type)
		}
	}
	return strings.Join(out, " ")
}

const eventsBase = `{"version":2,"features":[
 {"name":"a","enabled":true,"project":"default","strategies":[{"name":"default"}]},
 {"name":"b","enabled":true,"project":"p1","strategies":[{"name":"default","segments":[1]}]},
 {"name":"c","enabled":false,"project":"p1"},
 {"name":"d","enabled":true}
],"segments":[{"id":1,"constraints":[{"contextName":"appName","operator":"IN","values":["x"]}]},
 {"id":2,"constraints":[]}]}`

const eventsNext = `{"version":2,"features":[
 {"name":"a","enabled":true,"project":"default","strategies":[{"name":"default"}]},
 {"name":"b","enabled":false,"project":"p1","strategies":[{"name":"default","segments":[1]}]},
 {"name":"c","enabled":false,"project":"p2"},
 {"name":"e","enabled":true,"project":"p2"}
],"segments":[{"id":1,"constraints":[{"contextName":"appName","operator":"IN","values":["y"]}]},
 {"id":3,"constraints":[]}]}`

func TestDiff(t *testing.T) {
	from, to := mustDecode(t, eventsBase), mustDecode(t, eventsNext)
	tests := []struct {
		name     string
		from, to *ClientFeatures
		want     string
	}{
		{"same", from, mustDecode(t, eventsBase), ""},
		{"changes", from, to, "segment-updated:#1 segment-updated:#3 feature-updated:b feature-removed:c@p1 feature-updated:c feature-removed:d@default feature-updated:e segment-removed:#2"},
		{"from nothing", nil, from, "segment-updated:#1 segment-updated:#2 feature-updated:a feature-updated:b feature-updated:c feature-updated:d"},
		{"to nothing", from, nil, "feature-removed:a@default feature-removed:b@p1 feature-removed:c@p1 feature-removed:d@default segment-removed:#1 segment-removed:#2"},
		{"repeated names: last wins", mustDecode(t, `{"features":[{"name":"x","enabled":true},{"name":"x","enabled":false}]}`),
			mustDecode(t, `{"features":[{"name":"x","enabled":false}]}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := eventSummary(Diff(tt.from, tt.to)); got != tt.want {
				t.Errorf("Diff = %s\nwant   %s", got, tt.want)
			}
		})
	}
	t.Run("plans agree with sources", func(t *testing.T) {
		entries := diffPlans(Compile(from), Compile(to))
		got := make([]DeltaEvent, len(entries))
		for i := range entries {
			got[i] = entries[i].ev
		}
		if a, b := eventSummary(got), eventSummary(Diff(from, to)); a != b {
			t.Errorf("diffPlans = %s, Diff = %s", a, b)
		}
	})
}

// clientJSON is the /api/client/features body of cf, to compare states.
func clientJSON(cf *ClientFeatures) string {
	c := *cf
	c.Meta, c.Query = nil, nil
	if c.Segments == nil {
		c.Segments = []Segment{}
	}
	return string(Compile(&c).AppendClientFeatures(nil, nil, nil))
}

// TestDiffApplyRoundTrip checks that applying Diff(a, b) to a gives b, for
// random mutations of a generated data set, both with the events as Go
// values and as they travel: serialised by the log and decoded.
func TestDiffApplyRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	base := GenerateDataset(60, 1)
	if base.Segments == nil {
		base.Segments = []Segment{}
	}
	for round := range 30 {
		next := mutate(r, base)
		events := Diff(base, next)

		applied := *base
		applied.ApplyDelta(events)
		if got, want := clientJSON(&applied), clientJSON(next); got != want {
			t.Fatalf("round %d: ApplyDelta(Diff) differs from the target", round)
		}

		log := NewEventLog(1000, 10, Compile(base))
		last := log.Append(Compile(next), events)
		if want := 10 + len(events); last != want {
			t.Fatalf("Append returned %d, want %d", last, want)
		}
		body, n, ok := log.View().AppendSince([]byte(`{"events":[`), 10, nil)
		if !ok || n != len(events) {
			t.Fatalf("AppendSince: n=%d ok=%v, want %d", n, ok, len(events))
		}
		wire, err := DecodeClientFeaturesDelta(append(body, "]}"...))
		if err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, body)
		}
		for i, e := range wire.Events {
			if e.EventID != 11+i {
				t.Fatalf("event %d has id %d", i, e.EventID)
			}
		}
		decoded := *base
		decoded.ApplyDelta(wire.Events)
		if got, want := clientJSON(&decoded), clientJSON(next); got != want {
			t.Fatalf("round %d: applying the serialised events differs from the target", round)
		}
		base = next
	}
}

// mutate returns a copy of cf with random features changed, added,
// removed or moved to another project, and segments changed.
func mutate(r *rand.Rand, cf *ClientFeatures) *ClientFeatures {
	out := *cf
	out.Features = nil
	for _, f := range cf.Features {
		switch r.Intn(10) {
		case 0: // removed
			continue
		case 1:
			f.Enabled = !f.Enabled
		case 2:
			f.Project = "moved-" + strconv.Itoa(r.Intn(3))
		case 3:
			f.Strategies = append(slices.Clone(f.Strategies), Strategy{Name: "default", Variants: []Variant{}})
		}
		out.Features = append(out.Features, f)
	}
	for range r.Intn(4) {
		out.Features = append(out.Features, Feature{Name: "new-" + strconv.Itoa(r.Int()), Enabled: true, Project: "default"})
	}
	out.Segments = nil
	for _, s := range cf.Segments {
		switch r.Intn(6) {
		case 0:
			continue
		case 1:
			s.Constraints = append(slices.Clone(s.Constraints), Constraint{ContextName: "appName", Operator: "IN", Values: []string{"z"}})
		}
		out.Segments = append(out.Segments, s)
	}
	if r.Intn(3) == 0 {
		out.Segments = append(out.Segments, Segment{ID: 1000 + r.Intn(1000), Constraints: []Constraint{}})
	}
	if out.Segments == nil {
		out.Segments = []Segment{}
	}
	return &out
}

func featureEvents(n int) []DeltaEvent {
	out := make([]DeltaEvent, n)
	for i := range out {
		out[i] = DeltaEvent{Type: DeltaFeatureUpdated, Feature: &Feature{Name: "f" + strconv.Itoa(i), Project: "p" + strconv.Itoa(i%2)}}
	}
	return out
}

func eventIDs(events []DeltaEvent) []int {
	var ids []int
	for _, e := range events {
		ids = append(ids, e.EventID)
	}
	return ids
}

func TestEventLogRing(t *testing.T) {
	l := NewEventLog(3, 100, nil)
	if l.LastID() != 100 {
		t.Fatalf("LastID = %d", l.LastID())
	}
	if ev, ok := l.Since(100); !ok || len(ev) != 0 {
		t.Fatalf("Since(hydration point) = %v, %v; want empty, true", ev, ok)
	}
	if _, ok := l.Since(99); ok {
		t.Fatal("Since(older than hydration point) ok")
	}
	l.Append(nil, featureEvents(2)) // 101, 102
	if ev, ok := l.Since(100); !ok || !slices.Equal(eventIDs(ev), []int{101, 102}) {
		t.Fatalf("Since(100) = %v, %v", eventIDs(ev), ok)
	}
	l.Append(nil, featureEvents(2)) // 103, 104: 101 dropped
	if _, ok := l.Since(100); ok {
		t.Fatal("Since(100) ok after 101 was dropped")
	}
	if ev, ok := l.Since(101); !ok || !slices.Equal(eventIDs(ev), []int{102, 103, 104}) {
		t.Fatalf("Since(101) = %v, %v", eventIDs(ev), ok)
	}
	if ev, ok := l.Since(104); !ok || len(ev) != 0 {
		t.Fatalf("Since(last) = %v, %v", ev, ok)
	}
	if _, ok := l.Since(105); ok {
		t.Fatal("Since(newer than last) ok: a client from before a restart must hydrate")
	}
	l.Append(nil, featureEvents(5)) // 105..109: more than the ring
	if ev, ok := l.Since(106); !ok || !slices.Equal(eventIDs(ev), []int{107, 108, 109}) {
		t.Fatalf("Since(106) = %v, %v", eventIDs(ev), ok)
	}
	if _, ok := l.Since(105); ok {
		t.Fatal("Since(105) ok though 106 was dropped")
	}
	// A hydration restarts the history.
	last := l.Append(nil, []DeltaEvent{{Type: DeltaHydration}, featureEvents(1)[0]})
	if last != 111 {
		t.Fatalf("last = %d", last)
	}
	if _, ok := l.Since(109); ok {
		t.Fatal("Since before a hydration ok")
	}
	if ev, ok := l.Since(110); !ok || !slices.Equal(eventIDs(ev), []int{111}) {
		t.Fatalf("Since(110) = %v, %v", eventIDs(ev), ok)
	}
}

func TestEventLogChanged(t *testing.T) {
	p1 := Compile(mustDecode(t, eventsBase))
	l := NewEventLog(0, 1, p1)
	ch := l.Changed()
	l.Append(Compile(mustDecode(t, eventsBase)), nil) // same content: no event
	select {
	case <-ch:
		t.Fatal("Changed closed without an event")
	default:
	}
	if l.View().Plan() == p1 {
		t.Fatal("plan not replaced")
	}
	l.Append(nil, featureEvents(1))
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by an append")
	}
	if l.Changed() == ch {
		t.Fatal("Changed not replaced")
	}
}

func TestEventViewJSONFilters(t *testing.T) {
	from, to := mustDecode(t, eventsBase), mustDecode(t, eventsNext)
	l := NewEventLog(0, 0, Compile(from))
	l.Append(Compile(to), Diff(from, to))
	v := l.View()
	decode := func(body []byte) []DeltaEvent {
		t.Helper()
		d, err := DecodeClientFeaturesDelta(append(append([]byte(`{"events":[`), body...), "]}"...))
		if err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return d.Events
	}
	tests := []struct {
		name string
		f    *EventFilter
		want string
	}{
		{"all", nil, "segment-updated:#1 segment-updated:#3 feature-updated:b feature-removed:c@p1 feature-updated:c feature-removed:d@default feature-updated:e segment-removed:#2"},
		{"star", &EventFilter{Projects: []string{"*"}}, "segment-updated:#1 segment-updated:#3 feature-updated:b feature-removed:c@p1 feature-updated:c feature-removed:d@default feature-updated:e segment-removed:#2"},
		{"p1", &EventFilter{Projects: []string{"p1"}}, "segment-updated:#1 segment-updated:#3 feature-updated:b feature-removed:c@p1 segment-removed:#2"},
		{"p2", &EventFilter{Projects: []string{"p2"}}, "segment-updated:#1 segment-updated:#3 feature-updated:c feature-updated:e segment-removed:#2"},
		{"default", &EventFilter{Projects: []string{"default"}}, "segment-updated:#1 segment-updated:#3 feature-removed:d@default segment-removed:#2"},
		{"prefix", &EventFilter{NamePrefix: "e"}, "segment-updated:#1 segment-updated:#3 feature-updated:e segment-removed:#2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _, ok := v.AppendSince(nil, 0, tt.f)
			if !ok {
				t.Fatal("AppendSince not ok")
			}
			if got := eventSummary(decode(body)); got != tt.want {
				t.Errorf("events = %s\nwant     %s", got, tt.want)
			}
		})
	}
	t.Run("hydration", func(t *testing.T) {
		ev := decode(v.AppendHydration(nil, &EventFilter{Projects: []string{"p2"}}))
		if len(ev) != 1 || ev[0].Type != DeltaHydration || ev[0].EventID != v.LastID() {
			t.Fatalf("hydration = %+v", ev)
		}
		var names []string
		for _, f := range ev[0].Features {
			names = append(names, f.Name)
		}
		if strings.Join(names, ",") != "c,e" || len(ev[0].Segments) != 2 {
			t.Errorf("hydration features %v, %d segments", names, len(ev[0].Segments))
		}
		h := v.Hydration(&EventFilter{Projects: []string{"p2"}})
		a, _ := json.Marshal(h.Features)
		b, _ := json.Marshal(ev[0].Features)
		if string(a) != string(b) {
			t.Errorf("Hydration() = %s\nJSON        %s", a, b)
		}
		empty := NewEventLog(0, 5, nil).View().AppendHydration(nil, nil)
		if string(empty) != `{"eventId":5,"type":"hydration","features":[],"segments":[]}` {
			t.Errorf("empty hydration = %s", empty)
		}
	})
}

func TestStoreEvents(t *testing.T) {
	var s Store
	if s.Events("dev") != nil {
		t.Fatal("events before any publish")
	}
	changed := s.EventsChanged()
	s.Publish("", Compile(mustDecode(t, eventsBase)), "test")
	select {
	case <-changed:
	default:
		t.Fatal("EventsChanged not closed by the first log")
	}
	fallback := s.Events("")
	if fallback == nil || s.Events("dev") != fallback {
		t.Fatal("dev does not fall back to the fallback log")
	}
	first := fallback.LastID()
	if first < int(time.Now().Unix())-5 {
		t.Errorf("first event id %d is not time based", first)
	}
	if ev, ok := fallback.Since(first); !ok || len(ev) != 0 {
		t.Fatalf("first publish logged events: %v", ev)
	}

	ch := fallback.Changed()
	s.Publish("", Compile(mustDecode(t, eventsNext)), "test")
	<-ch
	ev, ok := fallback.Since(first)
	if !ok || len(ev) != 8 || ev[0].EventID != first+1 || ev[7].EventID != first+8 {
		t.Fatalf("second publish: %v %v", eventIDs(ev), ok)
	}

	// An environment of its own gets its own log, with newer ids.
	changed = s.EventsChanged()
	s.Publish("dev", Compile(mustDecode(t, eventsBase)), "test")
	<-changed
	dev := s.Events("dev")
	if dev == fallback || dev.LastID() <= fallback.LastID() {
		t.Fatalf("dev log %p (last %d), fallback %p (last %d)", dev, dev.LastID(), fallback, fallback.LastID())
	}
	// Ids increase across environments.
	s.Publish("", Compile(mustDecode(t, eventsBase)), "test")
	if fallback.LastID() <= dev.LastID() {
		t.Errorf("fallback last %d not above dev %d", fallback.LastID(), dev.LastID())
	}

	// Remove ends the log and falls back again.
	v := dev.View()
	s.Remove("dev")
	<-v.Changed()
	if !dev.View().Closed() {
		t.Fatal("removed log not closed")
	}
	if s.Events("dev") != fallback {
		t.Fatal("dev does not fall back after Remove")
	}
	last := dev.LastID()
	s.Publish("dev", Compile(mustDecode(t, eventsNext)), "test")
	if dev.LastID() != last {
		t.Fatal("closed log appended to")
	}
	if s.Events("dev") == dev {
		t.Fatal("republished env reuses the closed log")
	}
}

// TestStoreEventsConcurrent publishes while readers follow the log; run
// with -race.
func TestStoreEventsConcurrent(t *testing.T) {
	var s Store
	s.EventLogSize = 10
	plans := []*Plan{Compile(mustDecode(t, eventsBase)), Compile(mustDecode(t, eventsNext))}
	s.Publish("dev", plans[0], "test")
	const publishes = 200
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			l := s.Events("dev")
			v := l.View()
			seen := v.LastID()
			for {
				select {
				case <-v.Changed():
				case <-stop:
					return
				}
				v = l.View()
				body, _, ok := v.AppendSince(nil, seen, &EventFilter{Projects: []string{"p1"}})
				if !ok {
					body = v.AppendHydration(nil, nil)
				}
				if len(body) == 0 && ok && v.Len() == 0 {
					t.Error("empty view after a change")
				}
				if v.LastID() < seen {
					t.Errorf("last id went back from %d to %d", seen, v.LastID())
				}
				seen = v.LastID()
			}
		})
	}
	var pw sync.WaitGroup
	for w := range 2 {
		pw.Go(func() {
			for i := range publishes / 2 {
				s.Publish("dev", plans[(i+w)%2], "test")
				_ = s.Load("dev")
			}
		})
	}
	pw.Wait()
	close(stop)
	wg.Wait()
}
