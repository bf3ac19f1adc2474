// Command brink is the edge of a web application: an Unleash Edge drop-in
// flag server (and, as it grows, TLS termination, connection signals, relay
// and tunnels) in one static binary. This package only parses the command
// line and wires the stages together.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "brink:", err)
		os.Exit(exitCode(err))
	}
}
