package flags

// ApplyDelta applies delta events to cf in order, as Unleash Edge does:
// hydration replaces features and segments, feature-updated upserts,
// feature-removed deletes by name, segment-updated upserts,
// segment-removed deletes by id. Features end sorted by name.
func (cf *ClientFeatures) ApplyDelta(events []DeltaEvent) {}
