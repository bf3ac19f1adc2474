package flags

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// ErrEmptyBootstrap is returned for a bootstrap file with no JSON in it.
var ErrEmptyBootstrap = errors.New("flags: bootstrap file is empty")

var errNeither = errors.New(`neither a client-features payload (an object with a "features" array) nor a simplified map of {"enabled": bool, "variant": "name"} objects`)

// BootstrapError locates a problem in a bootstrap file.
type BootstrapError struct {
	// File is the path of the file, when the data came from one.
	File string
	// Line and Column are 1-based; zero when the position is unknown.
	Line, Column int
	Err          error
}

func (e *BootstrapError) Error() string {
	name := e.File
	if name == "" {
		name = "bootstrap"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %v", name, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%s: %v", name, e.Err)
}

func (e *BootstrapError) Unwrap() error { return e.Err }

// simpleFeature is one entry of the simplified bootstrap format:
// {"<name>": {"enabled": bool, "variant": "<name>"}}.
type simpleFeature struct {
	Enabled *bool   `json:"enabled"`
	Variant *string `json:"variant"`
}

// LoadBootstrapFile reads and decodes a bootstrap file. See DecodeBootstrap.
func LoadBootstrapFile(path string) (*ClientFeatures, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading bootstrap file: %w", err)
	}
	cf, err := DecodeBootstrap(data)
	if err != nil {
		var be *BootstrapError
		if errors.As(err, &be) {
			be.File = path
		}
		return nil, err
	}
	return cf, nil
}

// DecodeBootstrap decodes the two bootstrap formats of Unleash Edge's
// offline mode: a full /api/client/features payload, or the simplified
// object {"<flag>": {"enabled": bool, "variant": "<name>"}} which becomes one
// flag per key with a default strategy and, when variant is given, a single
// variant of weight 1000. Errors are *BootstrapError values carrying the
// line and column of the problem.
func DecodeBootstrap(data []byte) (*ClientFeatures, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, &BootstrapError{Err: ErrEmptyBootstrap}
	}
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		return nil, positioned(data, err)
	}
	if cf, ok := decodeSimple(data); ok {
		return cf, nil
	}
	var probe struct {
		Features json.RawMessage `json:"features"`
	}
	if trimmed[0] != '{' || json.Unmarshal(data, &probe) != nil || probe.Features == nil {
		return nil, &BootstrapError{Line: 1, Column: 1, Err: errNeither}
	}
	cf, err := DecodeClientFeatures(data)
	if err != nil {
		return nil, positioned(data, err)
	}
	return cf, nil
}

// decodeSimple accepts data only when every top-level value is an object
// with a boolean "enabled", as Unleash Edge's parser does before trying the
// full format.
func decodeSimple(data []byte) (*ClientFeatures, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil || len(m) == 0 {
		return nil, false
	}
	cf := &ClientFeatures{Version: 2}
	for name, raw := range m {
		var sf simpleFeature
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if dec.Decode(&sf) != nil || sf.Enabled == nil {
			return nil, false
		}
		f := Feature{
			Name:       name,
			Type:       "release",
			Project:    "default",
			Enabled:    *sf.Enabled,
			Strategies: []Strategy{{Name: "default", Parameters: map[string]string{}}},
		}
		if sf.Variant != nil {
			f.Variants = []Variant{{Name: *sf.Variant, Weight: 1000, WeightType: "fix", Stickiness: "default"}}
		}
		cf.Features = append(cf.Features, f)
	}
	slices.SortFunc(cf.Features, func(a, b Feature) int { return strings.Compare(a.Name, b.Name) })
	return cf, true
}

// positioned turns a JSON error into a BootstrapError with a line and column.
func positioned(data []byte, err error) error {
	off := int64(-1)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 {
		return &BootstrapError{Err: err}
	}
	line, col := LineColumn(data, off)
	return &BootstrapError{Line: line, Column: col, Err: err}
}

// LineColumn converts a byte offset into data into a 1-based line and column.
// encoding/json reports the offset just past the offending byte, so the
// column points at it.
func LineColumn(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	line, col = 1, 1
	for _, c := range data[:offset] {
		if c == '\n' {
			line++
			col = 1
			continue
		}
		col++
	}
	if col > 1 {
		col--
	}
	return line, col
}
