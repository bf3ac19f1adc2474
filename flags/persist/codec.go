package persist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/brink-edge/brink/flags"
)

// document is the encoded form of a PersistedState: one JSON document per
// file or key.
type document struct {
	tokens, features, lastEventIDs []byte
}

// encodeState encodes st (nil is an empty state) into the three documents.
func encodeState(st *flags.PersistedState) (document, error) {
	if st == nil {
		st = &flags.PersistedState{}
	}
	var d document
	var err error
	if d.tokens, err = encodeTokens(st.Tokens); err != nil {
		return d, fmt.Errorf("encoding tokens: %w", err)
	}
	if d.features, err = encodeFeatures(st.Features); err != nil {
		return d, fmt.Errorf("encoding features: %w", err)
	}
	if d.lastEventIDs, err = encodeLastEventIDs(st.LastEventIDs); err != nil {
		return d, fmt.Errorf("encoding last event ids: %w", err)
	}
	return d, nil
}

// encodeTokens encodes the validated tokens among tokens as a JSON array of
// Unleash Edge EdgeToken objects, in the order given. Other tokens are left
// out, as Unleash Edge does.
func encodeTokens(tokens []flags.Token) ([]byte, error) {
	keep := make([]flags.Token, 0, len(tokens))
	for _, t := range tokens {
		if t.Status == flags.TokenValidated && t.Raw != "" {
			keep = append(keep, t)
		}
	}
	return json.Marshal(keep)
}

// encodeFeatures encodes features as Unleash Edge's Vec<(String,
// ClientFeatures)>: [["env", {...}], ...], sorted by environment so that
// equal states give equal bytes. Nil feature sets are left out; a nil
// feature list is written as [] (Edge requires the member).
func encodeFeatures(features map[string]*flags.ClientFeatures) ([]byte, error) {
	envs := make([]string, 0, len(features))
	for env, cf := range features {
		if cf != nil {
			envs = append(envs, env)
		}
	}
	slices.Sort(envs)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // serde_json does not escape <, > and &
	buf.WriteByte('[')
	for i, env := range envs {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('[')
		if err := enc.Encode(env); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		buf.WriteByte(',')
		cf := features[env]
		if cf.Features == nil {
			c := *cf
			c.Features = []flags.Feature{}
			cf = &c
		}
		if err := enc.Encode(cf); err != nil {
			return nil, fmt.Errorf("environment %q: %w", env, err)
		}
		buf.Truncate(buf.Len() - 1)
		buf.WriteByte(']')
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// encodeLastEventIDs encodes ids as a JSON object ({} when empty).
func encodeLastEventIDs(ids map[string]uint32) ([]byte, error) {
	if ids == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(ids) // encoding/json sorts the keys
}

// decodeTokens decodes a JSON array of Unleash Edge EdgeToken objects.
// Entries brink cannot use are dropped rather than failing the whole
// document: null entries, entries without a token string, and tokens of a
// type brink does not know (Unleash Edge's "invalid" type).
func decodeTokens(data []byte) ([]flags.Token, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	tokens := make([]flags.Token, 0, len(raw))
	for i, r := range raw {
		if bytes.Equal(r, []byte("null")) {
			continue
		}
		var t flags.Token
		if err := json.Unmarshal(r, &t); err != nil {
			if errors.Is(err, flags.ErrTokenType) {
				continue
			}
			return nil, fmt.Errorf("token %d: %w", i, err)
		}
		if t.Raw == "" {
			continue
		}
		tokens = append(tokens, t)
	}
	return tokens, nil
}

// decodeFeatures decodes Unleash Edge's features document,
// [["env", ClientFeatures], ...], streaming from r. Every entry must be a
// pair of a string and an object; when an environment appears twice the
// last entry wins, as in Unleash Edge. Errors give the byte offset.
func decodeFeatures(r io.Reader) (map[string]*flags.ClientFeatures, error) {
	dec := json.NewDecoder(r)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("at byte %d: %w", dec.InputOffset(), fmt.Errorf(format, args...))
	}
	delim := func(want json.Delim, what string) error {
		tok, err := dec.Token()
		if err == io.EOF {
			return fail("unexpected end of input, want %s", what)
		}
		if err != nil {
			return fail("%w", err)
		}
		if d, ok := tok.(json.Delim); !ok || d != want {
			return fail("got %s, want %s", describe(tok), what)
		}
		return nil
	}
	if err := delim('[', "an array of [environment, features] pairs"); err != nil {
		return nil, err
	}
	out := make(map[string]*flags.ClientFeatures)
	for i := 0; dec.More(); i++ {
		if err := delim('[', fmt.Sprintf("entry %d to be an [environment, features] pair", i)); err != nil {
			return nil, err
		}
		var env *string
		if !dec.More() {
			return nil, fail("entry %d: empty pair", i)
		}
		if err := dec.Decode(&env); err != nil {
			return nil, fail("entry %d: environment: %w", i, err)
		}
		if env == nil {
			return nil, fail("entry %d: environment is null", i)
		}
		if !dec.More() {
			return nil, fail("entry %d (%q): no features", i, *env)
		}
		var cf *flags.ClientFeatures
		if err := dec.Decode(&cf); err != nil {
			return nil, fail("entry %d (%q): %w", i, *env, err)
		}
		if cf == nil {
			return nil, fail("entry %d (%q): features are null", i, *env)
		}
		if dec.More() {
			return nil, fail("entry %d (%q): more than two elements", i, *env)
		}
		if err := delim(']', fmt.Sprintf("the end of entry %d", i)); err != nil {
			return nil, err
		}
		out[*env] = cf
	}
	if err := delim(']', "the end of the array"); err != nil {
		return nil, err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fail("after the array: %w", err)
		}
		return nil, fail("unexpected %s after the array", describe(tok))
	}
	return out, nil
}

// describe names a JSON token for an error message.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(v))
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// decodeLastEventIDs decodes a JSON object of environment to event id.
// Unleash Edge keeps the ids as u64; one beyond brink's uint32 is dropped
// (that environment then starts from a full hydration) rather than failing
// the load.
func decodeLastEventIDs(data []byte) (map[string]uint32, error) {
	var raw map[string]uint64
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	ids := make(map[string]uint32, len(raw))
	for env, id := range raw {
		if id <= math.MaxUint32 {
			ids[env] = uint32(id)
		}
	}
	return ids, nil
}
