// Package flags is the Unleash domain of brink: the wire model of a
// client-features payload, its compilation into an evaluation Plan, the
// evaluation of flags for a Context, tokens and their scopes, the offline
// bootstrap loader, and the aggregation of SDK metrics.
//
// Allocation: evaluating a token's whole flag set for a Context and appending
// the frontend JSON answer (Plan.AppendFrontend) allocates nothing; the
// answer is appended from fragments serialised once per Plan.
//
// Concurrency: a Plan is immutable once compiled and is safe to use from
// concurrently running goroutines. A Context belongs to one request at a
// time. Store swaps Snapshots atomically.
//
// The package never imports a transport package (loop, tlsterm, gnet,
// fasthttp); flags/api wraps it in fasthttp handlers.
package flags
