package flags

// ClientFeatures is the wire model of an /api/client/features answer
// (unleash-types ClientFeatures). Field names, order and omission follow
// what Unleash Edge serialises: a nil slice or pointer is an absent value
// (Rust None) and is omitted, an empty slice is emitted as [].
type ClientFeatures struct {
	Version  int       `json:"version"`
	Features []Feature `json:"features"`
	Segments []Segment `json:"segments,omitzero"`
	// Query is emitted as null when absent, as Edge does.
	Query *Query `json:"query"`
	Meta  *Meta  `json:"meta,omitzero"`
	// raw, set by DecodeClientFeaturesFrom, holds the JSON each feature
	// was decoded from, for the next DecodeClientFeaturesFrom.
	raw *rawFeatures
}

// Feature is one feature flag of a ClientFeatures payload (unleash-types
// ClientFeature).
type Feature struct {
	Name        string  `json:"name"`
	Type        string  `json:"type,omitempty"`
	Description string  `json:"description,omitempty"`
	CreatedAt   *string `json:"createdAt,omitzero"`
	LastSeenAt  *string `json:"lastSeenAt,omitzero"`
	Enabled     bool    `json:"enabled"`
	Stale       bool    `json:"stale"`
	// ImpressionData asks frontend SDKs to emit impression events.
	ImpressionData bool         `json:"impressionData"`
	Project        string       `json:"project,omitempty"`
	Strategies     []Strategy   `json:"strategies,omitzero"`
	Variants       []Variant    `json:"variants,omitzero"`
	Dependencies   []Dependency `json:"dependencies,omitzero"`
}

// Strategy is one activation strategy of a Feature. Strategies of a
// feature are OR-ed.
type Strategy struct {
	Name      string `json:"name"`
	SortOrder *int   `json:"sortOrder,omitzero"`
	// Segments lists the ids of the segments whose constraints also apply.
	Segments    []int             `json:"segments,omitzero"`
	Constraints []Constraint      `json:"constraints,omitzero"`
	Parameters  map[string]string `json:"parameters,omitzero"`
	// Variants are strategy variants; Edge always emits them, [] when
	// absent, in the order name, weight, payload, stickiness.
	Variants []Variant `json:"variants"`
}

// Constraint restricts a Strategy (or a Segment) to contexts whose field
// ContextName satisfies Operator against Values (or Value).
type Constraint struct {
	ContextName     string   `json:"contextName"`
	Operator        string   `json:"operator"`
	CaseInsensitive bool     `json:"caseInsensitive"`
	Inverted        bool     `json:"inverted"`
	Values          []string `json:"values,omitzero"`
	Value           string   `json:"value,omitempty"`
}

// Segment is a reusable, named list of constraints referenced by id from
// strategies. Edge does not emit Name.
type Segment struct {
	ID          int          `json:"id"`
	Name        string       `json:"name,omitempty"`
	Constraints []Constraint `json:"constraints"`
}

// Variant is a feature variant (or a strategy variant).
type Variant struct {
	Name       string     `json:"name"`
	Weight     int        `json:"weight"`
	WeightType string     `json:"weightType,omitempty"`
	Stickiness string     `json:"stickiness,omitempty"`
	Payload    *Payload   `json:"payload,omitzero"`
	Overrides  []Override `json:"overrides,omitzero"`
}

// Payload is the value attached to a variant.
type Payload struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Override forces a variant for contexts whose ContextName is one of Values.
type Override struct {
	ContextName string   `json:"contextName"`
	Values      []string `json:"values"`
}

// Dependency makes a feature depend on a parent feature: the parent must be
// enabled (or disabled when Enabled is false) and, when Variants is given,
// resolve to one of those variants.
type Dependency struct {
	Feature  string   `json:"feature"`
	Enabled  *bool    `json:"enabled,omitzero"`
	Variants []string `json:"variants,omitzero"`
}

// Query describes the filter a ClientFeatures answer was made for. Edge
// emits projects, namePrefix (when given), environment and
// inlineSegmentConstraints (false).
type Query struct {
	Tags                     [][]string `json:"tags,omitzero"`
	Projects                 []string   `json:"projects,omitzero"`
	NamePrefix               string     `json:"namePrefix,omitempty"`
	Environment              string     `json:"environment,omitempty"`
	InlineSegmentConstraints bool       `json:"inlineSegmentConstraints"`
}

// Meta carries upstream revision information; absent members are null.
type Meta struct {
	ETag       *string `json:"etag"`
	RevisionID *int    `json:"revisionId"`
	QueryHash  *string `json:"queryHash"`
}

// Delta event types.
const (
	DeltaHydration      = "hydration"
	DeltaFeatureUpdated = "feature-updated"
	DeltaFeatureRemoved = "feature-removed"
	DeltaSegmentUpdated = "segment-updated"
	DeltaSegmentRemoved = "segment-removed"
)

// DeltaEvent is one event of the delta API (/api/client/delta). Type is one
// of the Delta* constants and says which other fields are set.
type DeltaEvent struct {
	EventID     int       `json:"eventId"`
	Type        string    `json:"type"`
	Feature     *Feature  `json:"feature,omitzero"`
	FeatureName string    `json:"featureName,omitempty"`
	Project     string    `json:"project,omitempty"`
	Segment     *Segment  `json:"segment,omitzero"`
	SegmentID   int       `json:"segmentId,omitempty"`
	Features    []Feature `json:"features,omitzero"`
	Segments    []Segment `json:"segments,omitzero"`
}

// ClientFeaturesDelta is the wire model of a delta API answer.
type ClientFeaturesDelta struct {
	Events []DeltaEvent `json:"events"`
}

// VariantResult is the outcome of Plan.GetVariant.
type VariantResult struct {
	Name string
	// Enabled is false for the "disabled" pseudo-variant.
	Enabled bool
	// FeatureEnabled is whether the feature itself is enabled.
	FeatureEnabled bool
	// Payload is nil when the variant has none. It must not be modified.
	Payload *Payload
}
