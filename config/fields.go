package config

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// kind is how a leaf is parsed and printed.
type kind int

const (
	kindString   kind = iota
	kindBool          // strconv.ParseBool
	kindInt           // base-10 integer
	kindDuration      // Go syntax: "30s"
	kindSize          // bytes or "64MiB"
	kindStrings       // a list of strings; "a,b" in env and flags
	kindList          // a list of mappings ([]CertPair, []TLSRoute, ...)
)

var (
	durationType = reflect.TypeFor[time.Duration]()
	sizeType     = reflect.TypeFor[Size]()
)

// field is one leaf key of Config: a value set as a whole by one source.
type field struct {
	key    string   // dotted YAML path: "tls.cert_file"
	index  []int    // reflect index path from Config (or from a list item)
	kind   kind     //
	env    []string // unprefixed variables (env tag)
	secret string   // secret tag: "", "true", "url", "token" or "header"
	// item describes the mapping of a kindList element, keyed by YAML name.
	item []*field
}

// schema is Config's key table, built once from its struct tags.
type schema struct {
	fields   []*field          // in declaration order
	byKey    map[string]*field //
	sections map[string]bool   // "tls", "metrics", "metrics.prometheus", ...
	byEnv    map[string][]*field
}

var theSchema = sync.OnceValue(func() *schema {
	s := &schema{byKey: map[string]*field{}, sections: map[string]bool{}, byEnv: map[string][]*field{}}
	s.walk(reflect.TypeFor[Config](), "", nil)
	for _, f := range s.fields {
		s.byKey[f.key] = f
		for _, e := range f.env {
			s.byEnv[e] = append(s.byEnv[e], f)
		}
	}
	return s
})

func (s *schema) walk(t reflect.Type, prefix string, index []int) {
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("yaml")
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		idx := append(slices.Clone(index), i)
		key := prefix + name
		if sf.Type.Kind() == reflect.Struct {
			s.sections[key] = true
			s.walk(sf.Type, key+".", idx)
			continue
		}
		s.fields = append(s.fields, newField(sf, key, idx))
	}
}

func newField(sf reflect.StructField, key string, idx []int) *field {
	f := &field{key: key, index: idx, secret: sf.Tag.Get("secret")}
	if e := sf.Tag.Get("env"); e != "" {
		f.env = strings.Split(e, ",")
	}
	switch t := sf.Type; {
	case t == durationType:
		f.kind = kindDuration
	case t == sizeType:
		f.kind = kindSize
	case t.Kind() == reflect.String:
		f.kind = kindString
	case t.Kind() == reflect.Bool:
		f.kind = kindBool
	case t.Kind() == reflect.Int:
		f.kind = kindInt
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		f.kind = kindStrings
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		f.kind = kindList
		for i := range t.Elem().NumField() {
			ef := t.Elem().Field(i)
			if n := ef.Tag.Get("yaml"); ef.IsExported() && n != "" {
				it := newField(ef, n, []int{i})
				if it.kind >= kindStrings || it.secret != "" || it.env != nil {
					panic("BUG: list item field " + key + "." + n + " must be a plain scalar")
				}
				f.item = append(f.item, it)
			}
		}
	default:
		panic("BUG: config field " + key + " has an unsupported type " + t.String())
	}
	return f
}

// itemField finds a list item's field by its YAML name.
func (f *field) itemField(name string) *field {
	for _, it := range f.item {
		if it.key == name {
			return it
		}
	}
	return nil
}

// value is f's place in c.
func (c *Config) value(f *field) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(f.index)
}

// Key describes one configuration key, for tools and tests that map other
// surfaces (command-line flags) onto the configuration.
type Key struct {
	// Name is the dotted YAML path, e.g. "tls.cert_file".
	Name string
	// Env are the unprefixed environment variables that set it.
	Env []string
	// Secret reports whether printing and logging redact it.
	Secret bool
}

// BrinkEnv is the BRINK_ form of the key: BRINK_TLS__CERT_FILE.
func (k Key) BrinkEnv() string { return brinkEnv(k.Name) }

func brinkEnv(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "__"))
}

// Keys lists every key of Config in declaration order.
func Keys() []Key {
	s := theSchema()
	out := make([]Key, len(s.fields))
	for i, f := range s.fields {
		out[i] = Key{Name: f.key, Env: slices.Clone(f.env), Secret: f.secret != ""}
	}
	return out
}

// Get returns the value of key (an int, bool, string, time.Duration, Size,
// []string or a slice of item structs) and whether key exists.
func (c *Config) Get(key string) (any, bool) {
	f := theSchema().byKey[key]
	if f == nil {
		return nil, false
	}
	return c.value(f).Interface(), true
}
