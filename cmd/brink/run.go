package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"
)

// version is set by the linker (-X main.version=...).
var version = "dev"

// usageError marks a command-line mistake: exit status 2.
type usageError struct{ error }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

type command struct {
	name    string
	summary string
	// setup registers the command's own options and returns its action.
	setup func(fs *flagSet, g *globalOptions) func(stdout io.Writer) error
}

var commands = []command{
	{"edge", "sync flags from an upstream Unleash (or brink/Edge), validate tokens, forward metrics", setupEdge},
	{"offline", "serve flags from a bootstrap file, without an upstream", setupOffline},
	{"health", "probe /internal-backstage/health of a running instance (container probe)", setupProbe("health")},
	{"ready", "probe /internal-backstage/ready of a running instance (container probe)", setupProbe("ready")},
	{"version", "print the version", func(*flagSet, *globalOptions) func(io.Writer) error {
		return func(w io.Writer) error { _, err := fmt.Fprintln(w, "brink", version); return err }
	}},
}

// run parses args (without the program name) and runs the chosen command.
// Global options may come before or after the command name, as in Unleash
// Edge; every option also reads its environment variable.
func run(args []string, stdout, stderr io.Writer) error {
	var g globalOptions
	pre := newFlagSet("brink")
	pre.SetInterspersed(false)
	g.register(pre)
	pre.SetOutput(io.Discard)
	if err := pre.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printUsage(stdout, pre)
			return nil
		}
		return usageError{err}
	}
	rest := pre.Args()
	if len(rest) == 0 || rest[0] == "help" {
		printUsage(stdout, pre)
		if len(rest) == 0 {
			return usageError{errors.New("no command given")}
		}
		return nil
	}
	var cmd *command
	for i := range commands {
		if commands[i].name == rest[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		return usageError{fmt.Errorf("unknown command %q (commands: %s)", rest[0], commandNames())}
	}
	// The command's own options first; then the global options, sharing
	// their values with pre so what came before the command is kept. A
	// global shorthand the command also uses (edge's -p) is long-only after
	// the command, as in Unleash Edge.
	fs := newFlagSet("brink " + cmd.name)
	action := cmd.setup(fs, &g)
	pre.VisitAll(func(f *pflag.Flag) {
		nf := *f
		if nf.Shorthand != "" && fs.ShorthandLookup(nf.Shorthand) != nil {
			nf.Shorthand = ""
		}
		fs.AddFlag(&nf)
	})
	fs.SetOutput(io.Discard)
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: brink %s [OPTIONS]\n\n%s\n\nOptions:\n%s", cmd.name, cmd.summary, fs.FlagUsages())
			return nil
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	// The probes and version do not use the global (server) options: a
	// platform's PORT or similar that brink could not parse must not break
	// a container probe.
	getenv := lookupEnv
	if cmd.name != "offline" && cmd.name != "edge" {
		global := make(map[string]bool)
		pre.VisitAll(func(f *pflag.Flag) {
			for _, env := range f.Annotations[envAnnotation] {
				global[env] = true
			}
		})
		getenv = func(k string) string {
			if global[k] {
				return ""
			}
			return lookupEnv(k)
		}
	}
	if err := fs.applyEnv(getenv); err != nil {
		return usageError{err}
	}
	return action(stdout)
}

func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

func printUsage(w io.Writer, fs *flagSet) {
	fmt.Fprintf(w, "brink %s: the edge of a web application (Unleash Edge compatible)\n\n", version)
	fmt.Fprintf(w, "Usage: brink [OPTIONS] <COMMAND> [OPTIONS]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nGlobal options (before or after the command):\n%s", fs.FlagUsages())
	fmt.Fprintf(w, "\nRun 'brink <COMMAND> --help' for the command's own options.\n")
}

// newLogger builds the process logger from --log-format and --log-level.
func newLogger(g *globalOptions, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.LogLevel)); err != nil {
		return nil, usageError{fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", g.LogLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "plain", "pretty", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("invalid --log-format %q: use plain, json or pretty", g.LogFormat)}
}
