// Package api serves the Unleash HTTP API of brink, a drop-in replacement
// for Unleash Edge, as a fasthttp request handler: the client API
// (/api/client/*) for server-side SDKs, the frontend API (/api/frontend*,
// /api/proxy*) for browser and mobile SDKs, /edge/validate for daisy-chained
// Edges, and /internal-backstage/* for operators. Handler.Handle is a
// fasthttp.RequestHandler; cmd plugs it into a server.
//
// Delta and streaming: /api/client/delta and /api/client/streaming (server-
// sent events) answer from the event log flags.Store keeps per environment
// (flags.EventLog), in Unleash's wire format, for SDKs in delta or
// streaming mode and for downstream Edges. Unleash Edge keeps them to its
// enterprise streaming mode; brink serves them in every mode. A stream
// runs on a goroutine fasthttp starts for the body writer and waits on the
// log's change channel, without polling; Handler.CloseStreams ends them
// all at shutdown.
//
// Tokens: Config.Tokens answers known tokens without allocating; with a
// Config.Validator (edge mode), unknown tokens in the Unleash format are
// validated upstream once, and the answer is cached by the validator.
//
// Allocation: a GET /api/frontend request with a query-string context is
// answered without allocating: the evaluation Context and the response
// buffers are pooled, the query is read from fasthttp's Args in place, the
// token and scope lookups use byte keys, and the body is appended by
// flags.Plan.AppendFrontend. /api/client/features answers are built,
// hashed and compressed once per (snapshot version, token scope,
// namePrefix) and then served from a bounded cache without copying. The
// metrics, registration, validation and backstage endpoints are cold paths
// that use encoding/json.
//
// Concurrency: a Handler is safe to call from concurrently running
// goroutines. It reads the flag state through flags.Store and the tokens
// through flags.TokenCache, both of which may be updated while it serves.
//
// Buffer ownership: strings in the evaluation Context alias the request's
// buffers and pooled scratch space; they are valid only until Handle
// returns and must not be retained by the engine. Bodies of cached client
// answers are shared and immutable: they are handed to fasthttp without a
// copy and must never be modified.
//
// Rejections (bad token, wrong path for the token type, no data, bad input)
// are counted in Prometheus series and logged through a throttle, at most
// one line per reason per second; successful requests are never logged.
package api
