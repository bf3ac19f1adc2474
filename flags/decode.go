package flags

import (
	"encoding/json"
	"fmt"
)

// DecodeClientFeatures decodes an /api/client/features payload. A decoding
// error wraps the *json.SyntaxError or *json.UnmarshalTypeError, whose
// Offset locates the fault.
func DecodeClientFeatures(data []byte) (*ClientFeatures, error) {
	var cf ClientFeatures
	if err := json.Unmarshal(data, &cf); err != nil {
		return nil, fmt.Errorf("decoding client features: %w", err)
	}
	return &cf, nil
}

// DecodeClientFeaturesDelta decodes a delta API payload ({"events":[...]}).
// Errors are wrapped as for DecodeClientFeatures.
func DecodeClientFeaturesDelta(data []byte) (*ClientFeaturesDelta, error) {
	var d ClientFeaturesDelta
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decoding client features delta: %w", err)
	}
	return &d, nil
}
