package flags

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func decodeMetrics(t *testing.T, s string) *ClientMetrics {
	t.Helper()
	var m ClientMetrics
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("decoding %s: %v", s, err)
	}
	return &m
}

func TestClientMetricsValidate(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error
	}{
		{"ok", `{"appName":"a","instanceId":"i","bucket":{"start":"2024-01-01T10:00:00.000Z","stop":"2024-01-01T10:01:00Z","toggles":{"f":{"yes":1,"no":2}}}}`, nil},
		{"epoch millis", `{"appName":"a","bucket":{"start":1704103200000,"stop":1704103260000,"toggles":{}}}`, nil},
		{"no bucket", `{"appName":"a","instanceId":"i"}`, nil},
		{"no app", `{"bucket":{"start":"2024-01-01T10:00:00Z","stop":"2024-01-01T10:01:00Z","toggles":{}}}`, ErrMetricsAppName},
		{"blank app", `{"appName":"  ","bucket":{"start":"2024-01-01T10:00:00Z","stop":"2024-01-01T10:01:00Z","toggles":{}}}`, ErrMetricsAppName},
		{"no start", `{"appName":"a","bucket":{"stop":"2024-01-01T10:01:00Z","toggles":{}}}`, ErrMetricsStart},
		{"no stop", `{"appName":"a","bucket":{"start":"2024-01-01T10:01:00Z","toggles":{}}}`, ErrMetricsStop},
		{"inverted", `{"appName":"a","bucket":{"start":"2024-01-01T10:01:00Z","stop":"2024-01-01T10:00:00Z","toggles":{}}}`, ErrMetricsStopBefore},
		{"no toggles", `{"appName":"a","bucket":{"start":"2024-01-01T10:00:00Z","stop":"2024-01-01T10:01:00Z"}}`, ErrMetricsToggles},
		{"empty toggle name", `{"appName":"a","bucket":{"start":"2024-01-01T10:00:00Z","stop":"2024-01-01T10:01:00Z","toggles":{"":{"yes":1,"no":0}}}}`, ErrMetricsToggleName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := decodeMetrics(t, tt.body).Validate(); !errors.Is(err, tt.want) {
				t.Errorf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
	for _, bad := range []string{
		`{"appName":"a","bucket":{"start":"yesterday","stop":"2024-01-01T10:00:00Z","toggles":{}}}`,
		`{"appName":"a","bucket":{"start":"2024-01-01T10:00:00Z","stop":"2024-01-01T10:00:00Z","toggles":{"f":{"yes":-1}}}}`,
		`{"appName":"a","bucket":{"start":true,"stop":"2024-01-01T10:00:00Z","toggles":{}}}`,
	} {
		var m ClientMetrics
		if err := json.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("Unmarshal(%s) succeeded, want an error", bad)
		}
	}
}

func TestMetricsAggregation(t *testing.T) {
	a := NewMetricsAggregator(MetricsConfig{AppName: "brink", InstanceID: "brink@1"})
	first := decodeMetrics(t, `{"appName":"app","environment":"ignored","bucket":{"start":"2024-01-01T10:05:00Z","stop":"2024-01-01T10:06:00Z","toggles":{"f":{"yes":1,"no":2,"variants":{"red":1}},"g":{"yes":0,"no":1}}}}`)
	second := decodeMetrics(t, `{"appName":"app","bucket":{"start":"2024-01-01T10:55:00Z","stop":"2024-01-01T10:56:00Z","toggles":{"f":{"yes":3,"no":0,"variants":{"red":2,"blue":1}}}}}`)
	nextHour := decodeMetrics(t, `{"appName":"app","bucket":{"start":"2024-01-01T11:00:00Z","stop":"2024-01-01T11:01:00Z","toggles":{"f":{"yes":5,"no":0}}}}`)
	for _, m := range []*ClientMetrics{first, second, nextHour} {
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	a.AddMetrics("production", first)
	a.AddMetrics("production", second)
	a.AddMetrics("production", nextHour)
	a.AddMetrics("", first) // no token environment: development

	snap := a.Snapshot()
	type row struct {
		feature, env string
		hour         int
		yes, no      uint32
		red, blue    uint32
	}
	var got []row
	for _, m := range snap.Metrics {
		if m.Key.FeatureName != m.Bucket.FeatureName || m.Key.AppName != "app" {
			t.Errorf("key %+v does not match bucket %+v", m.Key, m.Bucket)
		}
		got = append(got, row{m.Bucket.FeatureName, m.Bucket.Environment, m.Bucket.Timestamp.Hour(), m.Bucket.Yes, m.Bucket.No, m.Bucket.Variants["red"], m.Bucket.Variants["blue"]})
	}
	want := []row{
		{"f", "development", 10, 1, 2, 1, 0},
		{"f", "production", 10, 4, 2, 3, 1},
		{"f", "production", 11, 5, 0, 0, 0},
		{"g", "development", 10, 0, 1, 0, 0},
		{"g", "production", 10, 0, 1, 0, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("Snapshot metrics = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("metric %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"key":{"app_name":"app","feature_name":"f","environment":"development","timestamp":"2024-01-01T10:05:00Z"}`) {
		t.Errorf("metricsbatch JSON lacks the snake_case key: %s", b)
	}
	if !strings.Contains(string(b), `"bucket":{"featureName":"f","appName":"app","environment":"development"`) {
		t.Errorf("metricsbatch JSON lacks the camelCase bucket: %s", b)
	}

	drained := a.Drain()
	if len(drained.Metrics) != len(want) {
		t.Errorf("Drain returned %d metrics, want %d", len(drained.Metrics), len(want))
	}
	if st := a.Stats(); st.PendingKeys != 0 || st.Reports != 4 {
		t.Errorf("Stats after Drain = %+v", st)
	}
	if d := a.Drain(); len(d.Metrics) != 0 || len(d.Applications) != 0 {
		t.Errorf("second Drain = %+v, want empty", d)
	}
}

func TestMetricsBoundAndBulk(t *testing.T) {
	a := NewMetricsAggregator(MetricsConfig{MaxKeys: 2, MaxApplications: 1})
	var bulk BulkMetrics
	err := json.Unmarshal([]byte(`{"applications":[{"appName":"x","instanceId":"1","interval":15000,"started":"2024-01-01T00:00:00Z","strategies":["default"]},{"appName":"y"}],
		"metrics":[
		{"featureName":"f1","appName":"x","environment":"production","timestamp":"2024-01-01T10:00:00Z","yes":1,"no":0,"variants":{}},
		{"featureName":"f2","appName":"x","environment":"production","timestamp":1704103200000,"yes":1,"no":0,"variants":{}},
		{"featureName":"f3","appName":"x","environment":"production","timestamp":"2024-01-01T10:00:00Z","yes":1,"no":0,"variants":{}},
		{"featureName":"f1","appName":"x","environment":"development","timestamp":"2024-01-01T10:00:00Z","yes":1,"no":0,"variants":{}}]}`), &bulk)
	if err != nil {
		t.Fatal(err)
	}
	if err := bulk.Validate(); err != nil {
		t.Fatal(err)
	}
	if dropped := a.AddBulk("production", []string{"*"}, &bulk); dropped != 2 {
		t.Errorf("AddBulk dropped %d, want 2 (one over the bound, one foreign environment)", dropped)
	}
	st := a.Stats()
	if st.PendingKeys != 2 || st.DroppedMetrics != 2 || st.PendingApplications != 1 || st.DroppedApplications != 1 {
		t.Errorf("Stats = %+v", st)
	}
	d := a.Drain()
	if len(d.Applications) != 1 || d.Applications[0].Environment != "production" || d.Applications[0].Interval != 15000 {
		t.Errorf("applications = %+v", d.Applications)
	}

	var bad BulkMetrics
	_ = json.Unmarshal([]byte(`{"metrics":[{"appName":"x","timestamp":"2024-01-01T10:00:00Z"}]}`), &bad)
	if err := bad.Validate(); !errors.Is(err, ErrMetricsFeatureName) {
		t.Errorf("Validate(no featureName) = %v", err)
	}
}

func TestRegister(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	a := NewMetricsAggregator(MetricsConfig{AppName: "brink", InstanceID: "brink@1", Now: func() time.Time { return now }})
	var app ClientApplication
	if err := json.Unmarshal([]byte(`{"appName":"web","instanceId":"i1","interval":1.5e4,"strategies":["b","a"]}`), &app); err != nil {
		t.Fatal(err)
	}
	if err := app.Validate(); err != nil {
		t.Fatal(err)
	}
	a.Register(app, "production", []string{"p"}, "frontend")
	app.Strategies = []string{"c"}
	a.Register(app, "production", []string{"p"}, "frontend")
	apps := a.Snapshot().Applications
	if len(apps) != 1 {
		t.Fatalf("applications = %+v", apps)
	}
	got := apps[0]
	if got.Environment != "production" || got.SDKType != "frontend" || !got.Started.Equal(now) || got.Interval != 15000 ||
		strings.Join(got.Strategies, ",") != "a,b,c" || len(got.ConnectVia) != 1 || got.ConnectVia[0].InstanceID != "brink@1" {
		t.Errorf("registration = %+v", got)
	}
	if err := (&ClientApplication{}).Validate(); !errors.Is(err, ErrMetricsAppName) {
		t.Errorf("Validate(empty) = %v", err)
	}
}

func TestMetricsConcurrent(t *testing.T) {
	a := NewMetricsAggregator(MetricsConfig{})
	m := &ClientMetrics{AppName: "a", Bucket: &MetricBucket{
		Start: time.Now(), Stop: time.Now(), Toggles: map[string]ToggleStats{"f": {Yes: 1, Variants: map[string]uint32{"v": 1}}},
	}}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 250 {
				a.AddMetrics("e", m)
				a.Register(ClientApplication{AppName: "a"}, "e", nil, "")
				_ = a.Snapshot()
			}
		}()
	}
	wg.Wait()
	d := a.Drain()
	if len(d.Metrics) != 1 || d.Metrics[0].Yes != 1000 || d.Metrics[0].Variants["v"] != 1000 {
		t.Errorf("Drain = %+v", d.Metrics)
	}
}
