package upstream

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/brink-edge/brink/flags"
)

// TokenRefresh is the refresh status of one token of the refresh set, as
// /internal-backstage/tokens shows it (Unleash Edge's TokenRefresh).
type TokenRefresh struct {
	// Token is the refreshed token with its secret masked
	// (flags.Token.Anonymised).
	Token flags.Token
	// ETag is the upstream ETag of the last features answer.
	ETag string
	// NextRefresh is when the token is polled next.
	NextRefresh time.Time
	// LastRefreshed is when the upstream last delivered features (200 or
	// a stream event); zero when never.
	LastRefreshed time.Time
	// LastFeatureCount is the number of features last delivered.
	LastFeatureCount int
	// LastCheck is when the upstream last answered (200, 304 or a stream
	// event); zero when never.
	LastCheck time.Time
	// RevisionID is the upstream revision (meta.revisionId, or the last
	// stream event id); 0 when unknown.
	RevisionID uint32
	// FailureCount is the backoff level: failed fetches, less one for
	// every success since, at most 10.
	FailureCount uint32
}

// MarshalJSON encodes r in Unleash Edge's snake_case shape: token, etag,
// next_refresh, last_refreshed, last_feature_count, last_check,
// revision_id, failure_count; unknown values are null.
func (r TokenRefresh) MarshalJSON() ([]byte, error) {
	type wire struct {
		Token            flags.Token `json:"token"`
		ETag             *string     `json:"etag"`
		NextRefresh      *time.Time  `json:"next_refresh"`
		LastRefreshed    *time.Time  `json:"last_refreshed"`
		LastFeatureCount *int        `json:"last_feature_count"`
		LastCheck        *time.Time  `json:"last_check"`
		RevisionID       *uint32     `json:"revision_id"`
		FailureCount     uint32      `json:"failure_count"`
	}
	w := wire{Token: r.Token, FailureCount: r.FailureCount}
	if r.ETag != "" {
		w.ETag = &r.ETag
	}
	w.NextRefresh = timePtr(r.NextRefresh)
	w.LastRefreshed = timePtr(r.LastRefreshed)
	w.LastCheck = timePtr(r.LastCheck)
	if !r.LastRefreshed.IsZero() {
		w.LastFeatureCount = &r.LastFeatureCount
	}
	if r.RevisionID != 0 {
		w.RevisionID = &r.RevisionID
	}
	return json.Marshal(w)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// refreshes returns the status of every token of the refresh set, sorted
// by environment and anonymised token.
func (r *refresher) refreshes() []TokenRefresh {
	r.mu.Lock()
	out := make([]TokenRefresh, 0, len(r.refs))
	for _, st := range r.refs {
		tok := st.tok
		tok.Raw = tok.Anonymised()
		tok.Projects = slices.Clone(tok.Projects)
		out = append(out, TokenRefresh{
			Token: tok, ETag: st.etag, NextRefresh: st.next,
			LastRefreshed: st.lastRefreshed, LastFeatureCount: st.count, LastCheck: st.lastCheck,
			RevisionID: st.revision, FailureCount: st.failures,
		})
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b TokenRefresh) int {
		if c := strings.Compare(a.Token.Environment, b.Token.Environment); c != 0 {
			return c
		}
		return strings.Compare(a.Token.Raw, b.Token.Raw)
	})
	return out
}
