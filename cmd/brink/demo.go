package main

import _ "embed"

// demoFlags is the flag set `brink offline --demo` (and `make run`) serves:
// a dozen flags that show strategies, constraints, variants and segments.
//
//go:embed demo/flags.json
var demoFlags []byte

// The demo tokens: wildcard-project tokens for the development environment.
const (
	demoClientToken   = "*:development.brink-demo-client"
	demoFrontendToken = "*:development.brink-demo-frontend"
)
