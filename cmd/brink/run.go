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
	name string
	// sub, when set, is the one word that must follow name ("config print").
	sub     string
	summary string
	// configured commands load the configuration into g.cfg (and the
	// option structs) before their action runs.
	configured bool
	// setup registers the command's own options and returns its action.
	setup func(fs *flagSet, g *globalOptions) func(stdout io.Writer) error
}

func (c *command) String() string {
	if c.sub != "" {
		return c.name + " " + c.sub
	}
	return c.name
}

var commands = []command{
	{name: "edge", summary: "sync flags from an upstream Unleash (or brink/Edge), validate tokens, forward metrics", configured: true, setup: setupEdge},
	{name: "offline", summary: "serve flags from a bootstrap file, without an upstream", configured: true, setup: setupOffline},
	{name: "relay", summary: "the Octet edge: terminate TLS, forward to OCTET_URL with the licence and the connection signal, ship every signal", configured: true, setup: setupRelay},
	{name: "config", sub: "print", summary: "print the effective configuration (secrets redacted) and where each value came from", configured: true, setup: setupConfigPrint},
	{name: "health", summary: "probe /internal-backstage/health of a running instance (container probe)", setup: setupProbe("health")},
	{name: "ready", summary: "probe /internal-backstage/ready of a running instance (container probe)", setup: setupProbe("ready")},
	{name: "version", summary: "print the version", setup: func(*flagSet, *globalOptions) func(io.Writer) error {
		return func(w io.Writer) error { _, err := fmt.Fprintln(w, "brink", version); return err }
	}},
}

// run parses args (without the program name) and runs the chosen command.
func run(args []string, stdout, stderr io.Writer) error {
	inv, err := prepare(args, stdout, stderr)
	if err != nil || inv == nil {
		return err
	}
	return inv.action(stdout)
}

// invocation is a parsed command line, ready to run.
type invocation struct {
	g      *globalOptions
	fs     *flagSet // every option of the command, global ones included
	action func(io.Writer) error
}

// prepare parses args and, for a configured command, loads the
// configuration; it returns nil when it printed help. Global options may
// come before or after the command name, as in Unleash Edge; every option
// also reads its environment variable.
func prepare(args []string, stdout, stderr io.Writer) (*invocation, error) {
	var g globalOptions
	pre := newFlagSet("brink")
	pre.SetInterspersed(false)
	g.register(pre)
	pre.SetOutput(io.Discard)
	if err := pre.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printUsage(stdout, pre)
			return nil, nil
		}
		return nil, usageError{err}
	}
	rest := pre.Args()
	if len(rest) == 0 || rest[0] == "help" {
		printUsage(stdout, pre)
		if len(rest) == 0 {
			return nil, usageError{errors.New("no command given")}
		}
		return nil, nil
	}
	var cmd *command
	for i := range commands {
		c := &commands[i]
		if c.name != rest[0] {
			continue
		}
		if c.sub != "" {
			if len(rest) < 2 || rest[1] != c.sub {
				return nil, usageError{fmt.Errorf("%s needs a subcommand: %s %s", c.name, c.name, c.sub)}
			}
			rest = rest[1:]
		}
		cmd = c
	}
	if cmd == nil {
		return nil, usageError{fmt.Errorf("unknown command %q (commands: %s)", rest[0], commandNames())}
	}
	fs, keys, action := commandFlags(cmd, pre, &g)
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: brink %s [OPTIONS]\n\n%s\n\nOptions:\n%s", cmd, cmd.summary, fs.FlagUsages())
			return nil, nil
		}
		return nil, usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if cmd.configured {
		if err := loadConfig(fs, &g, keys, stderr); err != nil {
			return nil, err
		}
		return &invocation{&g, fs, action}, nil
	}
	// The probes and version do not use the global (server) options: a
	// platform's PORT or similar that brink could not parse must not break
	// a container probe.
	global := make(map[string]bool)
	pre.VisitAll(func(f *pflag.Flag) {
		for _, env := range f.Annotations[envAnnotation] {
			global[env] = true
		}
	})
	getenv := func(k string) string {
		if global[k] {
			return ""
		}
		return lookupEnv(k)
	}
	if err := fs.applyEnv(getenv); err != nil {
		return nil, usageError{err}
	}
	return &invocation{&g, fs, action}, nil
}

// commandFlags builds the command's flag set: its own options first, then
// the global options, sharing their values with pre so what came before
// the command is kept. A global shorthand the command also uses (edge's
// -p) is long-only after the command, as in Unleash Edge.
func commandFlags(cmd *command, pre *flagSet, g *globalOptions) (*flagSet, flagKeys, func(io.Writer) error) {
	fs := newFlagSet("brink " + cmd.String())
	action := cmd.setup(fs, g)
	keys := flagKeys{own: map[string]bool{}}
	if cmd.sub == "" {
		keys.section = cmd.name
	}
	fs.VisitAll(func(f *pflag.Flag) { keys.own[f.Name] = true })
	pre.VisitAll(func(f *pflag.Flag) {
		nf := *f
		if nf.Shorthand != "" && fs.ShorthandLookup(nf.Shorthand) != nil {
			nf.Shorthand = ""
		}
		fs.AddFlag(&nf)
	})
	fs.SetOutput(io.Discard)
	return fs, keys, action
}

func commandNames() string {
	names := make([]string, len(commands))
	for i := range commands {
		names[i] = commands[i].String()
	}
	return strings.Join(names, ", ")
}

func printUsage(w io.Writer, fs *flagSet) {
	fmt.Fprintf(w, "brink %s: the edge of a web application (Unleash Edge compatible)\n\n", version)
	fmt.Fprintf(w, "Usage: brink [OPTIONS] <COMMAND> [OPTIONS]\n\nCommands:\n")
	for i := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", commands[i].String(), commands[i].summary)
	}
	fmt.Fprintf(w, "\nGlobal options (before or after the command):\n%s", fs.FlagUsages())
	fmt.Fprintf(w, "\nRun 'brink <COMMAND> --help' for the command's own options.\n")
	fmt.Fprintf(w, "Every option is also a configuration key, settable in the YAML file (--config),\n")
	fmt.Fprintf(w, "as BRINK_<SECTION>__<KEY> and with --set; 'brink config print' lists them all.\n")
}

// newLogger builds the process logger from --log-format and --log-level,
// which a configured command has filled from the configuration's log section.
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
