package flags

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrTokenFormat is returned by ParseToken for a string that is not in the
// Unleash API token format [project]:[environment].[secret].
var ErrTokenFormat = errors.New("flags: token is not in the [project]:[environment].[secret] format")

// ErrTokenType is returned by ParseTokenType for an unknown type name.
var ErrTokenType = errors.New("flags: unknown token type")

// TokenType says which API a token may use. It is not part of the token
// string: it comes from upstream validation or from the option the token
// was configured with.
type TokenType uint8

const (
	// TokenUntyped is a token of no known type. As in Unleash Edge, it is
	// allowed on both the client and the frontend paths; an offline token
	// given both as a client and as a frontend token gets this type.
	TokenUntyped TokenType = iota
	// TokenClient is a backend (server-side SDK) token; Unleash calls it
	// "client" and, since 7.1.1, "backend".
	TokenClient
	// TokenFrontend is a frontend (browser and mobile SDK) token.
	TokenFrontend
	// TokenAdmin is an admin token; it may not use the SDK APIs.
	TokenAdmin
)

// ParseTokenType parses a token type name as Unleash sends it: "client" or
// "backend", "frontend", "admin", in any letter case.
func ParseTokenType(s string) (TokenType, error) {
	switch {
	case strings.EqualFold(s, "client"), strings.EqualFold(s, "backend"):
		return TokenClient, nil
	case strings.EqualFold(s, "frontend"):
		return TokenFrontend, nil
	case strings.EqualFold(s, "admin"):
		return TokenAdmin, nil
	}
	return TokenUntyped, ErrTokenType
}

// String returns the wire name of t: "client", "frontend", "admin", or ""
// for TokenUntyped. "client" is used rather than "backend" because every
// Unleash Edge release accepts it.
func (t TokenType) String() string {
	switch t {
	case TokenClient:
		return "client"
	case TokenFrontend:
		return "frontend"
	case TokenAdmin:
		return "admin"
	}
	return ""
}

// MarshalJSON encodes t as its wire name, or null for TokenUntyped.
func (t TokenType) MarshalJSON() ([]byte, error) {
	if t == TokenUntyped {
		return []byte("null"), nil
	}
	return json.Marshal(t.String())
}

// UnmarshalJSON decodes a wire name (any letter case) or null.
func (t *TokenType) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*t = TokenUntyped
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseTokenType(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// TokenStatus is the validation state of a token.
type TokenStatus uint8

const (
	// TokenUnknown is a token whose validation has not completed (for
	// example while the upstream is unreachable). Requests with it get 401.
	TokenUnknown TokenStatus = iota
	// TokenValidated is a token the upstream confirmed.
	TokenValidated
	// TokenInvalid is a token the upstream rejected; it is remembered so it
	// is not validated again on every request.
	TokenInvalid
	// TokenTrusted is a token accepted without upstream validation (offline
	// and pretrusted tokens).
	TokenTrusted
)

var tokenStatusNames = [...]string{"Unknown", "Validated", "Invalid", "Trusted"}

// String returns the name Unleash Edge serialises: "Unknown", "Validated",
// "Invalid" or "Trusted".
func (s TokenStatus) String() string {
	if int(s) < len(tokenStatusNames) {
		return tokenStatusNames[s]
	}
	return "Unknown"
}

// MarshalJSON encodes s as its name.
func (s TokenStatus) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON decodes a status name in any letter case; an unknown name
// is TokenUnknown.
func (s *TokenStatus) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	*s = TokenUnknown
	for i, n := range tokenStatusNames {
		if strings.EqualFold(n, name) {
			*s = TokenStatus(i)
		}
	}
	return nil
}

// Token is an SDK token and what is known of it.
type Token struct {
	// Raw is the token string exactly as SDKs send it.
	Raw string
	// Type says which API the token may use.
	Type TokenType
	// Environment is the environment whose flags the token sees; empty for
	// an offline token that is not in the Unleash format (it sees the
	// fallback flag set).
	Environment string
	// Projects are the projects the token sees; "*" means all. Empty for a
	// multi-project token ("[]") whose projects are not known yet.
	Projects []string
	// Status is the validation state.
	Status TokenStatus
}

// ParseToken parses an Unleash API token, [project]:[environment].[secret],
// as Unleash Edge does: the string (trimmed of spaces) is split at the
// first ':' into project and the rest, the rest up to a second ':' must
// hold a '.', and the environment is what precedes that '.'. Project "*"
// means all projects; "[]" marks a multi-project token whose projects come
// from validation (Projects is empty). The result has type TokenUntyped and
// status TokenUnknown.
func ParseToken(s string) (Token, error) {
	raw := strings.TrimSpace(s)
	project, rest, ok := strings.Cut(raw, ":")
	if !ok || project == "" {
		return Token{}, ErrTokenFormat
	}
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	env, _, ok := strings.Cut(rest, ".")
	if !ok || env == "" {
		return Token{}, ErrTokenFormat
	}
	t := Token{Raw: raw, Environment: env, Projects: []string{}}
	if project != "[]" {
		t.Projects = []string{project}
	}
	return t, nil
}

// AllProjects reports whether t sees every project.
func (t Token) AllProjects() bool { return slices.Contains(t.Projects, "*") }

// Subsumes reports whether t grants at least the access of other: the same
// type, the same environment, and either all projects or a superset of
// other's projects (Unleash Edge's rule).
func (t Token) Subsumes(other Token) bool {
	if t.Type != other.Type || t.Environment != other.Environment {
		return false
	}
	if t.AllProjects() {
		return true
	}
	if len(t.Projects) < len(other.Projects) {
		return false
	}
	for _, p := range other.Projects {
		if !slices.Contains(t.Projects, p) {
			return false
		}
	}
	return true
}

// Anonymised returns the token with its secret masked, for display:
// proj:env.abcdef****123456 (first and last six characters of the secret),
// proj:env.v2_<selector> for v2 tokens (v2_<selector>_<secret>), and the
// same masking of the whole string for a token with no '.'. A secret
// shorter than 12 characters is replaced by "****".
func (t Token) Anonymised() string {
	prefix, secret, ok := strings.Cut(t.Raw, ".")
	if !ok {
		return maskSecret(t.Raw)
	}
	if i := strings.IndexByte(secret, '.'); i >= 0 {
		secret = secret[:i]
	}
	if sel, ok := strings.CutPrefix(secret, "v2_"); ok {
		if i := strings.IndexByte(sel, '_'); i >= 0 {
			return prefix + ".v2_" + sel[:i]
		}
	}
	return prefix + "." + maskSecret(secret)
}

func maskSecret(s string) string {
	if len(s) < 12 {
		return "****"
	}
	return s[:6] + "****" + s[len(s)-6:]
}

// tokenJSON is the Unleash Edge EdgeToken wire shape.
type tokenJSON struct {
	Token       string      `json:"token"`
	Type        TokenType   `json:"type"`
	Environment *string     `json:"environment"`
	Projects    []string    `json:"projects"`
	Status      TokenStatus `json:"status"`
}

// MarshalJSON encodes t in the Unleash Edge shape {"token", "type",
// "environment", "projects", "status"}; an empty environment and an
// untyped token are null.
func (t Token) MarshalJSON() ([]byte, error) {
	j := tokenJSON{Token: t.Raw, Type: t.Type, Projects: t.Projects, Status: t.Status}
	if t.Environment != "" {
		j.Environment = &t.Environment
	}
	if j.Projects == nil {
		j.Projects = []string{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the Unleash Edge token shape. A missing status is
// TokenValidated, as in Unleash's /edge/validate answers.
func (t *Token) UnmarshalJSON(b []byte) error {
	j := tokenJSON{Status: TokenValidated}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*t = Token{Raw: j.Token, Type: j.Type, Projects: j.Projects, Status: j.Status}
	if j.Environment != nil {
		t.Environment = *j.Environment
	}
	return nil
}

// TokenCache holds the known tokens by their raw string. Lookups are
// lock-free and allocation-free; additions copy the map, so the cache
// suits a read-mostly set of tokens. The zero value is an empty cache; a
// TokenCache is safe for concurrent use and must not be copied.
type TokenCache struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[string]Token]
}

// Get returns the token whose raw string is raw. It allocates nothing, so
// raw may be an unsafe view of a request buffer.
func (c *TokenCache) Get(raw string) (Token, bool) {
	m := c.m.Load()
	if m == nil {
		return Token{}, false
	}
	t, ok := (*m)[raw]
	return t, ok
}

// Add stores t, replacing a token with the same raw string.
func (c *TokenCache) Add(t Token) {
	c.update(func(m map[string]Token) { m[t.Raw] = t })
}

// Remove drops the token with the raw string raw.
func (c *TokenCache) Remove(raw string) {
	c.update(func(m map[string]Token) { delete(m, raw) })
}

func (c *TokenCache) update(f func(map[string]Token)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	next := make(map[string]Token)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	f(next)
	c.m.Store(&next)
}

// Len returns the number of tokens.
func (c *TokenCache) Len() int {
	if m := c.m.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// All returns the tokens sorted by raw string.
func (c *TokenCache) All() []Token {
	m := c.m.Load()
	if m == nil {
		return nil
	}
	out := make([]Token, 0, len(*m))
	for _, t := range *m {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Token) int { return strings.Compare(a.Raw, b.Raw) })
	return out
}

// OfflineTokens builds the token cache of offline mode from the configured
// client and frontend tokens, all TokenTrusted:
//   - a token in the Unleash format keeps its project and environment, so
//     answers are filtered by its project;
//   - any other non-empty string is an offline token that matches only
//     exactly, has no environment (it sees the fallback flag set) and sees
//     all projects;
//   - a token given in both lists is TokenUntyped, allowed on both APIs.
//
// Surrounding spaces are trimmed and empty strings skipped.
func OfflineTokens(client, frontend []string) *TokenCache {
	m := make(map[string]Token, len(client)+len(frontend))
	add := func(s string, typ TokenType) {
		s = strings.TrimSpace(s)
		if s == "" {
			return
		}
		if old, ok := m[s]; ok {
			if old.Type != typ {
				old.Type = TokenUntyped
				m[s] = old
			}
			return
		}
		t, err := ParseToken(s)
		if err != nil {
			t = Token{Raw: s, Projects: []string{"*"}}
		}
		t.Type, t.Status = typ, TokenTrusted
		m[s] = t
	}
	for _, s := range client {
		add(s, TokenClient)
	}
	for _, s := range frontend {
		add(s, TokenFrontend)
	}
	c := new(TokenCache)
	c.m.Store(&m)
	return c
}
