// Package persist stores edge mode's [flags.PersistedState] where Unleash
// Edge stores it, in the same formats, so that a deployment can switch
// between Unleash Edge and brink and keep its backup:
//
//   - [File], a backup folder (--backup-folder): the files
//     unleash_tokens.json, unleash_features.json and
//     unleash_last_event_ids.json, each replaced atomically.
//   - [Redis], a Redis server or cluster (--redis-url and the other
//     --redis-* options): the keys unleash-tokens, unleash-features and
//     unleash-last-event-ids, each a JSON string set with a plain SET (no
//     TTL). Several instances may share one Redis; the last writer wins.
//
// The documents are:
//
//	unleash_tokens.json / unleash-tokens
//	  [{"token":"p:env.secret","type":"client","environment":"env","projects":["p"],"status":"Validated"}, ...]
//	unleash_features.json / unleash-features
//	  [["<environment>", <ClientFeatures>], ...]   (an array of pairs, sorted by environment)
//	unleash_last_event_ids.json / unleash-last-event-ids
//	  {"<environment>": <last delta event id>, ...}
//
// Only validated tokens are saved. Loading is tolerant where Unleash Edge
// writes things brink has no use for (a token of type "invalid" and an
// event id beyond uint32 are dropped) and strict otherwise: a corrupt
// document is an error that names the file or key, no state is returned
// with it, and the caller is expected to log it and start without the
// saved state.
//
// [Open] picks the store from the command-line options.
package persist

// File names in the backup folder, as Unleash Edge names them.
const (
	TokensFile       = "unleash_tokens.json"
	FeaturesFile     = "unleash_features.json"
	LastEventIDsFile = "unleash_last_event_ids.json"
)

// Redis keys, as Unleash Edge names them.
const (
	TokensKey       = "unleash-tokens"
	FeaturesKey     = "unleash-features"
	LastEventIDsKey = "unleash-last-event-ids"
)
