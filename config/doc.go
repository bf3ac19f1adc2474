// Package config is brink's one configuration model: a typed Config for
// every command, read from layers in rising precedence
//
//	defaults < YAML file < environment < command line
//
// and checked as a whole before anything starts.
//
// # Keys
//
// Every value has a dotted key, its YAML path: server.port,
// tls.routes, metrics.prometheus.bearer_token. A key's environment form
// is BRINK_ followed by the key in upper case with "__" for each dot
// (BRINK_SERVER__PORT, BRINK_METRICS__PROMETHEUS__BEARER_TOKEN). Keys that
// the seeds or Unleash Edge name also read those unprefixed variables
// (PORT, UPSTREAM_URL, TOKENS, OCTET_URL, LICENSE, EDGE_TLS_CERT_FILE, ...;
// the env tags in config.go list them), so their users change nothing.
// Within the environment, BRINK_ names beat unprefixed ones; two
// unprefixed names of one key that disagree are an error; an empty
// variable counts as unset. A BRINK_ name without "__" is never a key: it
// belongs to another tool (BRINK_REQUIRE_E2E) or is a legacy alias
// (BRINK_SERVER, BRINK_SIGNAL_CAPTURE); one that looks like a key with a
// single underscore is reported as a warning.
//
// Lists of strings are written as YAML lists, or comma-separated in the
// environment and on the command line (a leading "[" reads the value as a
// YAML flow list). Lists of mappings (tls.routes, relay.routes) are YAML
// in the file and in the environment:
// BRINK_RELAY__ROUTES='[{host: octet.example.com}, {path_prefix: /octet}]'.
// A list is replaced as a whole by a higher layer, never merged. Durations
// use Go syntax ("30s"); sizes are bytes or a number with a unit ("64MiB").
// A YAML null leaves a key at the layer below.
//
// # Origins and secrets
//
// Load records for every key where its value came from ("default",
// "yaml:<file>:<line>", "env:<NAME>", "flag:--<name>", or "implied by
// <key>" for a value derived from others, such as tls.enabled from a
// configured certificate); Config.Origin returns it, and WriteYAML prints
// it beside each value. Fields tagged secret (licence, JWT secret, bearer
// token, Redis password and URL credentials, SDK tokens, custom header
// values) appear only through Redacted, WriteYAML and LogValue as
// "<redacted>"; error messages never quote them.
//
// # Errors
//
// Unknown keys, values of the wrong type, missing required values and
// inconsistent combinations are each an *Error naming the origin (YAML
// file and line, variable or flag) and the key; Load returns all of them
// joined, and nothing partial.
//
// # Contracts
//
// Load is a cold-path function (reflection, allocation); a loaded Config
// is read-only and safe to read from concurrently running goroutines. The
// package knows no command-line library: cmd/brink maps its flags onto
// keys and hands them to Load as Settings.
package config
