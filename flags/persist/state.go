package persist

import (
	"bytes"
	"fmt"

	"github.com/brink-edge/brink/flags"
)

// stored is what was read back from a store: each document's bytes, nil
// when the file or key does not exist, and the name to give in errors.
type stored struct {
	tokens, features, lastEventIDs       []byte
	tokensAt, featuresAt, lastEventIDsAt string
}

// decode turns what was read into a state: nil when nothing was stored,
// otherwise a state with non-nil Tokens, Features and LastEventIDs. Any
// corrupt document fails the whole load, so that a caller never starts with
// tokens whose features it lost (it would answer them with empty flag sets).
func (s stored) decode() (*flags.PersistedState, error) {
	if s.tokens == nil && s.features == nil && s.lastEventIDs == nil {
		return nil, nil
	}
	st := &flags.PersistedState{
		Tokens:       []flags.Token{},
		Features:     map[string]*flags.ClientFeatures{},
		LastEventIDs: map[string]uint32{},
	}
	var err error
	if s.tokens != nil {
		if st.Tokens, err = decodeTokens(s.tokens); err != nil {
			return nil, fmt.Errorf("persist: %s: corrupt tokens: %w", s.tokensAt, err)
		}
	}
	if s.features != nil {
		if st.Features, err = decodeFeatures(bytes.NewReader(s.features)); err != nil {
			return nil, fmt.Errorf("persist: %s: corrupt features: %w", s.featuresAt, err)
		}
	}
	if s.lastEventIDs != nil {
		if st.LastEventIDs, err = decodeLastEventIDs(s.lastEventIDs); err != nil {
			return nil, fmt.Errorf("persist: %s: corrupt last event ids: %w", s.lastEventIDsAt, err)
		}
	}
	return st, nil
}
