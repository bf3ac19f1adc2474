package flags

import "context"

// TokenValidator resolves tokens that a TokenCache does not know yet: in
// edge mode, by asking the upstream's /edge/validate. The HTTP API calls it
// for an unknown token before answering.
type TokenValidator interface {
	// Validate returns what upstream says of raw and records the answer in
	// the token cache, valid and invalid alike, so a bad token is asked
	// about once. When upstream cannot be asked (unreachable, timeout), the
	// token is returned with Status TokenUnknown and is not cached; the API
	// answers 401 then. err is for logging only.
	Validate(ctx context.Context, raw string) (Token, error)
}
