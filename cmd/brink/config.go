package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/brink-edge/brink/config"
)

// noConfigAnnotation marks the flags that feed the configuration itself
// (--config, --set) rather than one of its keys.
const noConfigAnnotation = "noconfig"

// globalKeys are the global options whose key is not server.<name>.
var globalKeys = map[string]string{
	"log-format":             "log.format",
	"log-level":              "log.level",
	"server":                 "server.front", // server.server would stutter
	"tls-enable":             "tls.enabled",
	"tls-server-cert":        "tls.cert_file",
	"tls-server-key":         "tls.key_file",
	"tls-server-port":        "tls.server_port",
	"tls-accept":             "tls.accept",
	"redirect-http-to-https": "http.redirect_to_https",
}

// flagKeys maps a command's flags onto configuration keys: a global option
// --a-b is server.a_b (or its globalKeys entry), a command's own option is
// <command>.a_b. A flag whose key the configuration lacks maps to "".
type flagKeys struct {
	section string          // the command's section: edge, offline or ""
	own     map[string]bool // the command's own flags
}

func (k flagKeys) key(f *pflag.Flag) string {
	if len(f.Annotations[noConfigAnnotation]) > 0 {
		return ""
	}
	snake := strings.ReplaceAll(f.Name, "-", "_")
	key := "server." + snake
	switch {
	case k.own[f.Name]:
		key = k.section + "." + snake
	case globalKeys[f.Name] != "":
		key = globalKeys[f.Name]
	}
	if _, ok := config.Default().Get(key); !ok {
		return ""
	}
	return key
}

// skipEnv keeps a command from reading the unprefixed variables of the
// other mode's options, as it did before the configuration existed.
var skipEnv = map[string][]string{
	"edge":    {"offline"},
	"offline": {"edge"},
	"relay":   {"edge", "offline"},
}

// loadConfig loads the configuration with the command line's flags as the
// top layer, then writes every value back into the option structs, so the
// flags, the environment and the YAML file all reach the same fields.
// Flags without a key keep their environment variable (applyEnv).
func loadConfig(fs *flagSet, g *globalOptions, keys flagKeys, stderr io.Writer) error {
	var settings []config.Setting
	for _, s := range g.Sets {
		st, err := config.ParseSet(s)
		if err != nil {
			return usageError{err}
		}
		settings = append(settings, st)
	}
	names := map[string]string{}
	keyless := newFlagSet("keyless")
	fs.VisitAll(func(f *pflag.Flag) {
		key := keys.key(f)
		if key == "" {
			if len(f.Annotations[noConfigAnnotation]) == 0 {
				keyless.AddFlag(f)
			}
			return
		}
		names[key] = "--" + f.Name
		if !f.Changed {
			return
		}
		vals := []string{f.Value.String()}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			vals = sv.GetSlice()
		}
		settings = append(settings, config.Setting{Key: key, Values: vals, Origin: "flag:--" + f.Name})
	})
	if err := keyless.applyEnv(lookupEnv); err != nil {
		return usageError{err}
	}
	cfg, err := config.Load(config.Sources{
		File:      g.ConfigFile,
		Environ:   os.Environ(),
		SkipEnv:   skipEnv[keys.section],
		Flags:     settings,
		FlagNames: names,
	})
	if err != nil {
		return usageError{configError(err)}
	}
	var setErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if key := keys.key(f); key != "" && setErr == nil {
			v, _ := cfg.Get(key)
			setErr = setFlag(f, v)
		}
	})
	if setErr != nil {
		return setErr
	}
	g.cfg = cfg
	if logger, err := newLogger(g, stderr); err == nil {
		for _, w := range cfg.Warnings() {
			logger.Warn(w)
		}
		logger.Debug("configuration", "file", cfg.File(), "config", cfg)
	}
	return nil
}

// configError puts each problem of a failed Load on its own line.
func configError(err error) error {
	var multi interface{ Unwrap() []error }
	if errors.As(err, &multi) && len(multi.Unwrap()) > 1 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return fmt.Errorf("invalid configuration: %w", err)
}

// setFlag stores a configuration value in the flag's option field.
func setFlag(f *pflag.Flag, v any) error {
	switch v := v.(type) {
	case []string:
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			return sv.Replace(v)
		}
		return f.Value.Set(strings.Join(v, ","))
	case bool:
		return f.Value.Set(strconv.FormatBool(v))
	case int:
		return f.Value.Set(strconv.Itoa(v))
	case string:
		return f.Value.Set(v)
	}
	return fmt.Errorf("BUG: --%s maps to a configuration value of type %T", f.Name, v)
}

// setupConfigPrint builds `brink config print`: the effective
// configuration as YAML, secrets redacted, each value's origin beside it.
func setupConfigPrint(_ *flagSet, g *globalOptions) func(io.Writer) error {
	return func(stdout io.Writer) error {
		fmt.Fprintf(stdout, "# brink %s: effective configuration, secrets redacted\n", version)
		if f := g.cfg.File(); f != "" {
			fmt.Fprintf(stdout, "# file: %s\n", f)
		}
		return g.cfg.WriteYAML(stdout)
	}
}
