package flags

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by the Validate methods of the metrics payloads. They
// name the offending field so an HTTP layer can answer 400 with them.
var (
	ErrMetricsAppName     = errors.New("flags: metrics: appName is required")
	ErrMetricsStart       = errors.New("flags: metrics: bucket.start is required")
	ErrMetricsStop        = errors.New("flags: metrics: bucket.stop is required")
	ErrMetricsStopBefore  = errors.New("flags: metrics: bucket.stop is before bucket.start")
	ErrMetricsToggles     = errors.New("flags: metrics: bucket.toggles is required")
	ErrMetricsToggleName  = errors.New("flags: metrics: a toggle name is empty")
	ErrMetricsFeatureName = errors.New("flags: metrics: featureName is required")
	ErrMetricsTimestamp   = errors.New("flags: metrics: timestamp is required")
	ErrMetricsTime        = errors.New("flags: metrics: a time is neither an RFC 3339 string nor epoch milliseconds")
	ErrMetricsInterval    = errors.New("flags: metrics: interval is not a non-negative number")
)

// DefaultEnvironment is the environment metrics are counted under when the
// token names none, as in Unleash Edge.
const DefaultEnvironment = "development"

// Default bounds of a MetricsAggregator.
const (
	DefaultMaxMetricsKeys    = 100_000
	DefaultMaxApplications   = 10_000
	DefaultMaxVariantsPerKey = 256
)

// ToggleStats counts the evaluations of one feature in a bucket.
type ToggleStats struct {
	Yes      uint32            `json:"yes"`
	No       uint32            `json:"no"`
	Variants map[string]uint32 `json:"variants"`
}

// MetricBucket is the time window of an SDK metrics report and the counts
// of each feature in it.
type MetricBucket struct {
	Start   time.Time              `json:"start"`
	Stop    time.Time              `json:"stop"`
	Toggles map[string]ToggleStats `json:"toggles"`
}

// UnmarshalJSON accepts start and stop as RFC 3339 strings or epoch
// milliseconds.
func (b *MetricBucket) UnmarshalJSON(data []byte) error {
	var raw struct {
		Start   json.RawMessage        `json:"start"`
		Stop    json.RawMessage        `json:"stop"`
		Toggles map[string]ToggleStats `json:"toggles"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	var err error
	if b.Start, err = parseFlexTime(raw.Start); err != nil {
		return err
	}
	if b.Stop, err = parseFlexTime(raw.Stop); err != nil {
		return err
	}
	b.Toggles = raw.Toggles
	return nil
}

// parseFlexTime decodes null/absent (zero time), an RFC 3339 string or a
// number of epoch milliseconds.
func parseFlexTime(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, ErrMetricsTime
		}
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, ErrMetricsTime
		}
		return t.UTC(), nil
	}
	ms, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(ms) || math.IsInf(ms, 0) || ms < 0 || ms > 1e15 {
		return time.Time{}, ErrMetricsTime
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

// MetricsMetadata describes the SDK that sent a report.
type MetricsMetadata struct {
	SDKVersion       string `json:"sdkVersion,omitempty"`
	SDKType          string `json:"sdkType,omitempty"`
	YggdrasilVersion string `json:"yggdrasilVersion,omitempty"`
	PlatformName     string `json:"platformName,omitempty"`
	PlatformVersion  string `json:"platformVersion,omitempty"`
}

// ClientMetrics is the body of POST /api/client/metrics (and of the
// frontend metrics endpoints).
type ClientMetrics struct {
	AppName      string `json:"appName"`
	InstanceID   string `json:"instanceId,omitempty"`
	ConnectionID string `json:"connectionId,omitempty"`
	// Environment is what the SDK claims; the aggregator uses the token's
	// environment instead, as Unleash Edge does.
	Environment string `json:"environment,omitempty"`
	// Bucket is nil when the SDK sent none (newer SDKs may post only impact
	// metrics); such a report is accepted and counts nothing.
	Bucket *MetricBucket `json:"bucket,omitempty"`
	MetricsMetadata
}

// Validate reports the first problem of m: a missing appName, or in a
// bucket that is present a missing or inverted window, missing toggles or
// an empty toggle name.
func (m *ClientMetrics) Validate() error {
	if strings.TrimSpace(m.AppName) == "" {
		return ErrMetricsAppName
	}
	b := m.Bucket
	if b == nil {
		return nil
	}
	if b.Start.IsZero() {
		return ErrMetricsStart
	}
	if b.Stop.IsZero() {
		return ErrMetricsStop
	}
	if b.Stop.Before(b.Start) {
		return ErrMetricsStopBefore
	}
	if b.Toggles == nil {
		return ErrMetricsToggles
	}
	for name := range b.Toggles {
		if name == "" {
			return ErrMetricsToggleName
		}
	}
	return nil
}

// ClientMetricsEnv is one feature's counts for an application, environment
// and time, the unit of POST /api/client/metrics/bulk and of the upstream
// forwarding.
type ClientMetricsEnv struct {
	FeatureName string            `json:"featureName"`
	AppName     string            `json:"appName"`
	Environment string            `json:"environment"`
	Timestamp   time.Time         `json:"timestamp"`
	Yes         uint32            `json:"yes"`
	No          uint32            `json:"no"`
	Variants    map[string]uint32 `json:"variants"`
	MetricsMetadata
}

// UnmarshalJSON accepts the timestamp as an RFC 3339 string or epoch
// milliseconds.
func (m *ClientMetricsEnv) UnmarshalJSON(data []byte) error {
	type plain ClientMetricsEnv
	var raw struct {
		plain
		Timestamp json.RawMessage `json:"timestamp"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*m = ClientMetricsEnv(raw.plain)
	var err error
	m.Timestamp, err = parseFlexTime(raw.Timestamp)
	return err
}

// Validate reports a missing featureName, appName or timestamp.
func (m *ClientMetricsEnv) Validate() error {
	switch {
	case m.FeatureName == "":
		return ErrMetricsFeatureName
	case strings.TrimSpace(m.AppName) == "":
		return ErrMetricsAppName
	case m.Timestamp.IsZero():
		return ErrMetricsTimestamp
	}
	return nil
}

// ConnectVia names an Edge instance an application registration passed
// through.
type ConnectVia struct {
	AppName    string `json:"appName"`
	InstanceID string `json:"instanceId"`
}

// ClientApplication is an SDK registration: the body of POST
// /api/client/register and an entry of a bulk post's applications.
type ClientApplication struct {
	AppName      string       `json:"appName"`
	ConnectVia   []ConnectVia `json:"connectVia,omitempty"`
	Environment  string       `json:"environment,omitempty"`
	Projects     []string     `json:"projects,omitempty"`
	InstanceID   string       `json:"instanceId,omitempty"`
	ConnectionID string       `json:"connectionId,omitempty"`
	Interval     uint32       `json:"interval"`
	Started      time.Time    `json:"started"`
	Strategies   []string     `json:"strategies"`
	MetricsMetadata
}

// UnmarshalJSON accepts started as an RFC 3339 string or epoch
// milliseconds, and a fractional interval.
func (a *ClientApplication) UnmarshalJSON(data []byte) error {
	type plain ClientApplication
	var raw struct {
		plain
		Interval json.Number     `json:"interval"`
		Started  json.RawMessage `json:"started"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*a = ClientApplication(raw.plain)
	if raw.Interval != "" {
		f, err := raw.Interval.Float64()
		if err != nil || f < 0 || f > math.MaxUint32 {
			return ErrMetricsInterval
		}
		a.Interval = uint32(f)
	}
	var err error
	a.Started, err = parseFlexTime(raw.Started)
	return err
}

// Validate reports a missing appName.
func (a *ClientApplication) Validate() error {
	if strings.TrimSpace(a.AppName) == "" {
		return ErrMetricsAppName
	}
	return nil
}

// BulkMetrics is the body of POST /api/client/metrics/bulk, and what
// Drain returns for the upstream post.
type BulkMetrics struct {
	Applications []ClientApplication `json:"applications"`
	Metrics      []ClientMetricsEnv  `json:"metrics"`
}

// Validate reports the first invalid application or metric.
func (b *BulkMetrics) Validate() error {
	for i := range b.Applications {
		if err := b.Applications[i].Validate(); err != nil {
			return err
		}
	}
	for i := range b.Metrics {
		if err := b.Metrics[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}

// MetricsKey identifies an aggregated count in the
// /internal-backstage/metricsbatch answer (Unleash Edge's snake_case
// shape). Counts are summed per hour of Timestamp.
type MetricsKey struct {
	AppName     string    `json:"app_name"`
	FeatureName string    `json:"feature_name"`
	Environment string    `json:"environment"`
	Timestamp   time.Time `json:"timestamp"`
}

// ClientMetric is one entry of MetricsBatch.Metrics.
type ClientMetric struct {
	Key    MetricsKey       `json:"key"`
	Bucket ClientMetricsEnv `json:"bucket"`
}

// MetricsBatch is the /internal-backstage/metricsbatch answer: the pending
// registrations and counts.
type MetricsBatch struct {
	Applications []ClientApplication `json:"applications"`
	Metrics      []ClientMetric      `json:"metrics"`
}

// MetricsConfig configures a MetricsAggregator. The zero value is usable.
type MetricsConfig struct {
	// MaxKeys bounds the pending (app, feature, environment, hour) counts;
	// counts for new keys beyond it are dropped and counted. Zero means
	// DefaultMaxMetricsKeys.
	MaxKeys int
	// MaxApplications bounds the pending registrations the same way. Zero
	// means DefaultMaxApplications.
	MaxApplications int
	// MaxVariantsPerKey bounds the variant names counted per key. Zero
	// means DefaultMaxVariantsPerKey.
	MaxVariantsPerKey int
	// AppName and InstanceID identify this instance; when AppName is set it
	// is appended to every registration's connectVia.
	AppName, InstanceID string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// MetricsStats are the counters of a MetricsAggregator.
type MetricsStats struct {
	// PendingKeys and PendingApplications are what the next Drain returns.
	PendingKeys, PendingApplications int
	// Reports counts accepted metrics reports (single and bulk);
	// Registrations counts accepted registrations.
	Reports, Registrations uint64
	// DroppedMetrics counts feature counts dropped by the key bound or for
	// a foreign environment; DroppedApplications counts registrations
	// dropped by the application bound.
	DroppedMetrics, DroppedApplications uint64
}

type aggKey struct {
	app, feature, env string
	hour              int64
}

type appKey struct{ app, instance string }

// MetricsAggregator sums SDK metrics per (appName, featureName,
// environment, hour) and keeps the latest registration per (appName,
// instanceId) until they are drained for the upstream. It is safe for
// concurrent use; its methods run on the cold metrics path and allocate.
type MetricsAggregator struct {
	cfg MetricsConfig

	mu      sync.Mutex
	metrics map[aggKey]*ClientMetricsEnv
	apps    map[appKey]*ClientApplication

	reports, registrations      atomic.Uint64
	droppedMetrics, droppedApps atomic.Uint64
}

// NewMetricsAggregator returns an empty aggregator configured by cfg.
func NewMetricsAggregator(cfg MetricsConfig) *MetricsAggregator {
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxMetricsKeys
	}
	if cfg.MaxApplications <= 0 {
		cfg.MaxApplications = DefaultMaxApplications
	}
	if cfg.MaxVariantsPerKey <= 0 {
		cfg.MaxVariantsPerKey = DefaultMaxVariantsPerKey
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &MetricsAggregator{
		cfg:     cfg,
		metrics: make(map[aggKey]*ClientMetricsEnv),
		apps:    make(map[appKey]*ClientApplication),
	}
}

// AddMetrics counts a validated single-application report sent with a
// token of environment env ("" means DefaultEnvironment). The report's own
// environment is ignored, as in Unleash Edge. It returns how many feature
// counts were dropped by the key bound.
func (a *MetricsAggregator) AddMetrics(env string, m *ClientMetrics) int {
	if env == "" {
		env = DefaultEnvironment
	}
	a.reports.Add(1)
	if m.Bucket == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	dropped := 0
	for name, st := range m.Bucket.Toggles {
		e := ClientMetricsEnv{
			FeatureName: name, AppName: m.AppName, Environment: env,
			Timestamp: m.Bucket.Start, Yes: st.Yes, No: st.No, Variants: st.Variants,
			MetricsMetadata: m.MetricsMetadata,
		}
		if !a.addLocked(&e) {
			dropped++
		}
	}
	return dropped
}

// AddBulk counts a validated bulk post sent with a token of environment
// env. When env is not empty, metrics of another environment are dropped
// (as Unleash Edge does); metrics without an environment take env, or
// DefaultEnvironment. Applications are registered as by Register. It
// returns how many metrics were dropped.
func (a *MetricsAggregator) AddBulk(env string, projects []string, b *BulkMetrics) int {
	a.reports.Add(1)
	for i := range b.Applications {
		a.Register(b.Applications[i], env, projects, "")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	dropped := 0
	for i := range b.Metrics {
		m := b.Metrics[i]
		switch {
		case m.Environment == "" && env == "":
			m.Environment = DefaultEnvironment
		case m.Environment == "":
			m.Environment = env
		case env != "" && m.Environment != env:
			a.droppedMetrics.Add(1)
			dropped++
			continue
		}
		if !a.addLocked(&m) {
			dropped++
		}
	}
	return dropped
}

// addLocked sums m into its key; it reports false when the key bound
// dropped it. m's Variants map is not retained.
func (a *MetricsAggregator) addLocked(m *ClientMetricsEnv) bool {
	k := aggKey{app: m.AppName, feature: m.FeatureName, env: m.Environment, hour: hourOf(m.Timestamp)}
	cur, ok := a.metrics[k]
	if !ok {
		if len(a.metrics) >= a.cfg.MaxKeys {
			a.droppedMetrics.Add(1)
			return false
		}
		cur = &ClientMetricsEnv{
			FeatureName: m.FeatureName, AppName: m.AppName, Environment: m.Environment,
			Timestamp: m.Timestamp, Variants: map[string]uint32{}, MetricsMetadata: m.MetricsMetadata,
		}
		a.metrics[k] = cur
	}
	cur.Yes = addSat(cur.Yes, m.Yes)
	cur.No = addSat(cur.No, m.No)
	for v, n := range m.Variants {
		if _, ok := cur.Variants[v]; !ok && len(cur.Variants) >= a.cfg.MaxVariantsPerKey {
			continue
		}
		cur.Variants[v] = addSat(cur.Variants[v], n)
	}
	return true
}

func hourOf(t time.Time) int64 { return t.Unix() / 3600 }

func addSat(a, b uint32) uint32 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint32
}

// Register keeps a validated registration under (appName, instanceId),
// merging strategies with an earlier one. env and projects (from the
// token) fill the application's environment ("" leaves it) and projects;
// sdkType, when not empty, overrides the SDK's. This instance is appended
// to connectVia when MetricsConfig.AppName is set.
func (a *MetricsAggregator) Register(app ClientApplication, env string, projects []string, sdkType string) {
	if env != "" {
		app.Environment = env
	}
	if len(projects) > 0 {
		app.Projects = slices.Clone(projects)
	}
	if sdkType != "" {
		app.SDKType = sdkType
	}
	if app.Started.IsZero() {
		app.Started = a.cfg.Now().UTC()
	}
	app.ConnectVia = slices.Clone(app.ConnectVia)
	if a.cfg.AppName != "" {
		app.ConnectVia = append(app.ConnectVia, ConnectVia{AppName: a.cfg.AppName, InstanceID: a.cfg.InstanceID})
	}
	app.Strategies = slices.Clone(app.Strategies)
	if app.Strategies == nil {
		app.Strategies = []string{}
	}
	k := appKey{app: app.AppName, instance: cmp.Or(app.InstanceID, "default")}
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.apps[k]; ok {
		for _, s := range old.Strategies {
			if !slices.Contains(app.Strategies, s) {
				app.Strategies = append(app.Strategies, s)
			}
		}
		slices.Sort(app.Strategies)
	} else if len(a.apps) >= a.cfg.MaxApplications {
		a.droppedApps.Add(1)
		return
	}
	a.registrations.Add(1)
	a.apps[k] = &app
}

// Snapshot returns the pending registrations and counts in the
// /internal-backstage/metricsbatch shape, sorted, without draining them.
func (a *MetricsAggregator) Snapshot() MetricsBatch {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := MetricsBatch{Applications: a.appsLocked(), Metrics: make([]ClientMetric, 0, len(a.metrics))}
	for _, m := range a.metrics {
		c := *m
		c.Variants = maps.Clone(m.Variants)
		out.Metrics = append(out.Metrics, ClientMetric{
			Key:    MetricsKey{AppName: m.AppName, FeatureName: m.FeatureName, Environment: m.Environment, Timestamp: m.Timestamp},
			Bucket: c,
		})
	}
	slices.SortFunc(out.Metrics, func(x, y ClientMetric) int { return compareMetric(&x.Bucket, &y.Bucket) })
	return out
}

// Drain removes and returns the pending registrations and counts, sorted,
// in the shape of an upstream bulk post.
func (a *MetricsAggregator) Drain() BulkMetrics {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := BulkMetrics{Applications: a.appsLocked(), Metrics: make([]ClientMetricsEnv, 0, len(a.metrics))}
	for _, m := range a.metrics {
		out.Metrics = append(out.Metrics, *m)
	}
	slices.SortFunc(out.Metrics, func(x, y ClientMetricsEnv) int { return compareMetric(&x, &y) })
	clear(a.metrics)
	clear(a.apps)
	return out
}

func (a *MetricsAggregator) appsLocked() []ClientApplication {
	apps := make([]ClientApplication, 0, len(a.apps))
	for _, app := range a.apps {
		apps = append(apps, *app)
	}
	slices.SortFunc(apps, func(x, y ClientApplication) int {
		return cmp.Or(strings.Compare(x.AppName, y.AppName), strings.Compare(x.InstanceID, y.InstanceID))
	})
	return apps
}

func compareMetric(x, y *ClientMetricsEnv) int {
	return cmp.Or(
		strings.Compare(x.AppName, y.AppName),
		strings.Compare(x.FeatureName, y.FeatureName),
		strings.Compare(x.Environment, y.Environment),
		cmp.Compare(hourOf(x.Timestamp), hourOf(y.Timestamp)),
	)
}

// Stats returns the aggregator's counters.
func (a *MetricsAggregator) Stats() MetricsStats {
	a.mu.Lock()
	keys, apps := len(a.metrics), len(a.apps)
	a.mu.Unlock()
	return MetricsStats{
		PendingKeys: keys, PendingApplications: apps,
		Reports: a.reports.Load(), Registrations: a.registrations.Load(),
		DroppedMetrics: a.droppedMetrics.Load(), DroppedApplications: a.droppedApps.Load(),
	}
}
