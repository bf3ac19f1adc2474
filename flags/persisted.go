package flags

import "context"

// PersistedState is what edge mode saves to, and restores from, persistent
// storage (Redis or a backup folder): the validated tokens and the raw
// upstream feature sets, so an edge restarted while its upstream is down
// can serve what it last knew (Unleash Edge's --redis-url and
// --backup-folder).
type PersistedState struct {
	// Tokens are the tokens the upstream validated (client and frontend).
	Tokens []Token
	// Features are the upstream feature sets by environment, as merged from
	// the refreshes of every client token of that environment.
	Features map[string]*ClientFeatures
	// LastEventIDs are, by environment, the id of the last delta event
	// applied when the environment was streamed; absent when it was polled.
	LastEventIDs map[string]uint32
}

// Persister stores a PersistedState. Edge mode reads it once at start-up
// (its tokens are validated again together with the startup tokens; when
// the upstream cannot be reached they are trusted as saved, and its
// features serve every environment the upstream did not provide), and
// writes it periodically and at shutdown once the upstream delivered
// features. Implementations must be safe for concurrent use. Save must not
// modify st, whose feature sets are shared with the running edge; the
// state returned by Load belongs to the caller.
type Persister interface {
	// Load returns the saved state. A nil state and nil error means nothing
	// was saved yet.
	Load(ctx context.Context) (*PersistedState, error)
	// Save replaces the saved state with st.
	Save(ctx context.Context, st *PersistedState) error
}
