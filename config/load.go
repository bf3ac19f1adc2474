package config

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// envPrefix starts every structured environment variable.
const envPrefix = "BRINK_"

// EnvConfigFile names the YAML file when no --config is given.
const EnvConfigFile = envPrefix + "CONFIG"

// Sources are the inputs of Load, lowest precedence first: defaults, the
// YAML File, Environ (unprefixed names, then BRINK_ names), Flags.
type Sources struct {
	// File is the YAML file; empty: BRINK_CONFIG from Environ, if set.
	File string
	// Data, when not nil, is File's content (File only names it).
	Data []byte
	// Environ is the environment as os.Environ returns it.
	Environ []string
	// SkipEnv lists sections whose unprefixed variables are not read, for
	// a command that does not use them (offline skips REDIS_PORT, which a
	// Kubernetes service named redis sets to tcp://...). BRINK_ variables
	// and YAML still apply to them.
	SkipEnv []string
	// Flags are the command line's settings, applied last and in order.
	Flags []Setting
	// FlagNames maps keys to the flag that sets them ("--tls-server-cert"),
	// so messages can name every way to set a missing value.
	FlagNames map[string]string
}

// Setting is one value given on the command line.
type Setting struct {
	// Key is the dotted key.
	Key string
	// Values is one value for a scalar; the items of a list of strings; a
	// YAML list (or one mapping) per value for a list of mappings.
	Values []string
	// Origin names the flag: "flag:--port".
	Origin string
}

// ParseSet parses a --set argument, "key=value", into a Setting; value is
// read as the environment form of key.
func ParseSet(arg string) (Setting, error) {
	key, val, ok := strings.Cut(arg, "=")
	key = strings.TrimSpace(key)
	origin := "flag:--set " + key
	if !ok || key == "" {
		// The argument is not quoted back: it may be a secret typed wrong.
		return Setting{}, &Error{Origin: "flag:--set", Msg: "needs key=value", Kind: ErrSyntax}
	}
	if theSchema().byKey[key] == nil {
		return Setting{}, &Error{Origin: origin, Key: key, Msg: "unknown key" + suggest(key), Kind: ErrUnknownKey}
	}
	return Setting{Key: key, Values: []string{val}, Origin: origin}, nil
}

// meta is what Load learned besides the values.
type meta struct {
	file     string
	origins  map[string]string
	warnings []string
}

// loader carries one Load.
type loader struct {
	cfg  *Config
	src  *Sources
	errs errorList
}

func (l *loader) record(f *field, origin string) { l.cfg.meta.origins[f.key] = origin }

// Load builds the configuration from src, then fills implied values
// (Resolve) and validates the result. Its error joins every problem found,
// each an *Error naming the origin and the key.
func Load(src Sources) (*Config, error) {
	l := &loader{cfg: Default(), src: &src}
	l.cfg.meta = &meta{origins: make(map[string]string)}
	env := environ(src.Environ)
	file := src.File
	if file == "" {
		file = env[EnvConfigFile]
	}
	if file != "" {
		l.cfg.meta.file = file
		data := src.Data
		if data == nil {
			var err error
			if data, err = readFile(file); err != nil {
				origin := "flag:--config"
				if src.File == "" {
					origin = "env:" + EnvConfigFile
				}
				l.errs.add(origin, "", ErrMissing, err.Error())
				return nil, l.errs.err()
			}
		}
		l.loadYAML(file, data)
	}
	l.loadEnv(env)
	for _, s := range src.Flags {
		l.loadSetting(s)
	}
	if len(l.errs) > 0 {
		return nil, l.errs.err()
	}
	l.resolve()
	l.validate()
	if len(l.errs) > 0 {
		return nil, l.errs.err()
	}
	return l.cfg, nil
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read the configuration: %w", err)
	}
	defer f.Close()
	// One byte more than allowed, so loadYAML can refuse it by its size.
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the configuration: %w", err)
	}
	return data, nil
}

func environ(kv []string) map[string]string {
	env := make(map[string]string, len(kv))
	for _, e := range kv {
		if k, v, ok := strings.Cut(e, "="); ok {
			env[k] = v
		}
	}
	return env
}

// loadEnv applies the unprefixed names, then the BRINK_ names (more
// specific, so they win). Empty variables count as unset.
func (l *loader) loadEnv(env map[string]string) {
	s := theSchema()
	for _, f := range s.fields {
		if len(f.env) == 0 || slices.Contains(l.src.SkipEnv, section(f.key)) && !strings.HasPrefix(f.env[0], envPrefix) {
			continue
		}
		var name, val string
		for _, e := range f.env {
			v := env[e]
			switch {
			case v == "":
			case name == "":
				name, val = e, v
			case v != val:
				l.errs.add("env:"+e, f.key, ErrInvalid, fmt.Sprintf("%s and %s both set it, to different values", name, e))
			}
		}
		if name != "" {
			l.setString(f, val, "env:"+name)
		}
	}
	names := make([]string, 0, len(env))
	for k := range env {
		if strings.HasPrefix(k, envPrefix) && k != EnvConfigFile && s.byEnv[k] == nil {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		rest := name[len(envPrefix):]
		if !strings.Contains(rest, "__") {
			l.warnFlatEnv(name)
			continue
		}
		key := strings.ToLower(strings.ReplaceAll(rest, "__", "."))
		f := s.byKey[key]
		switch {
		case f == nil && s.sections[key]:
			l.errs.add("env:"+name, key, ErrUnknownKey, "names a section, not a key")
		case f == nil:
			l.errs.add("env:"+name, key, ErrUnknownKey, "unknown key"+suggest(key))
		case env[name] != "":
			l.setString(f, env[name], "env:"+name)
		}
	}
}

// warnFlatEnv notes a BRINK_ variable without "__" that looks like a
// section's key: nesting needs a double underscore. Other BRINK_ names
// belong to other tools (BRINK_REQUIRE_E2E) and are left alone.
func (l *loader) warnFlatEnv(name string) {
	for _, f := range theSchema().fields {
		if strings.ReplaceAll(brinkEnv(f.key), "__", "_") == name {
			l.cfg.meta.warnings = append(l.cfg.meta.warnings, name+" is not read: nesting takes a double underscore, as in "+brinkEnv(f.key))
			return
		}
	}
}

func section(key string) string {
	s, _, _ := strings.Cut(key, ".")
	return s
}

// setString applies the environment (or flag) form of a value: scalars as
// text, lists of strings comma-separated or as a YAML flow list ("[a, b]"),
// lists of mappings as YAML.
func (l *loader) setString(f *field, s, origin string) {
	v := l.cfg.value(f)
	switch f.kind {
	case kindStrings:
		if !strings.HasPrefix(strings.TrimSpace(s), "[") {
			v.Set(reflect.ValueOf(splitList(s)))
			l.record(f, origin)
			return
		}
		fallthrough
	case kindList:
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(s), &n); err != nil {
			l.errs.add(origin, f.key, ErrSyntax, "cannot read the value as YAML: "+strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		if len(n.Content) == 0 {
			return
		}
		d := &decoder{l: l, budget: maxNodes, origin: func(int) string { return origin }}
		if d.set(f, f.key, v, n.Content[0], origin) {
			l.record(f, origin)
		}
	default:
		if err := parseScalar(v, f.kind, s); err != nil {
			l.errs.add(origin, f.key, ErrType, err.Error())
			return
		}
		l.record(f, origin)
	}
}

// loadSetting applies one command-line setting.
func (l *loader) loadSetting(s Setting) {
	f := theSchema().byKey[s.Key]
	if f == nil {
		l.errs.add(s.Origin, s.Key, ErrUnknownKey, "unknown key"+suggest(s.Key))
		return
	}
	switch {
	case f.kind == kindStrings && !(len(s.Values) == 1 && strings.HasPrefix(strings.TrimSpace(s.Values[0]), "[")):
		var list []string
		for _, v := range s.Values {
			list = append(list, splitList(v)...)
		}
		l.cfg.value(f).Set(reflect.ValueOf(list))
		l.record(f, s.Origin)
	case f.kind == kindList:
		// Each value is a list (or one mapping); their items add up.
		v := l.cfg.value(f)
		merged := reflect.MakeSlice(v.Type(), 0, 0)
		for _, val := range s.Values {
			text := strings.TrimSpace(val)
			if !strings.HasPrefix(text, "[") && !strings.HasPrefix(text, "-") {
				text = "[" + text + "]"
			}
			v.Set(reflect.Zero(v.Type()))
			before := len(l.errs)
			l.setString(f, text, s.Origin)
			if len(l.errs) != before {
				return
			}
			merged = reflect.AppendSlice(merged, v)
		}
		v.Set(merged)
		l.record(f, s.Origin)
	case len(s.Values) > 0:
		l.setString(f, s.Values[len(s.Values)-1], s.Origin)
	}
}

// Origin says where key's value came from: "default",
// "yaml:<file>:<line>", "env:<NAME>", "flag:--<name>", or "implied by ..."
// for a value Load derived from others.
func (c *Config) Origin(key string) string {
	if c.meta != nil {
		if o, ok := c.meta.origins[key]; ok {
			return o
		}
	}
	return "default"
}

// File is the YAML file Load read, if any.
func (c *Config) File() string {
	if c.meta == nil {
		return ""
	}
	return c.meta.file
}

// Warnings are problems that did not stop Load (a BRINK_ variable that
// looks misspelt, a listener beyond loopback); log them at start.
func (c *Config) Warnings() []string {
	if c.meta == nil {
		return nil
	}
	return slices.Clone(c.meta.warnings)
}
