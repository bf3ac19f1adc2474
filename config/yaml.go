package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

const (
	// maxFileBytes bounds the YAML file; a configuration is a few KiB.
	maxFileBytes = 4 << 20
	// maxNodes bounds the nodes visited, aliases included, so a file of
	// nested aliases (a "billion laughs") cannot make Load run for long.
	maxNodes = 100_000
)

// decoder applies YAML nodes (from the file, or from an environment
// variable or flag holding a list) to a Config.
type decoder struct {
	l      *loader
	origin func(line int) string // the origin of a node at line
	budget int
}

// yamlLineErr matches the position yaml.v3 puts in its messages.
var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// loadYAML applies the file's keys.
func (l *loader) loadYAML(file string, data []byte) {
	fileOrigin := "yaml:" + file
	if len(data) > maxFileBytes {
		l.errs.add(fileOrigin, "", ErrSyntax, fmt.Sprintf("file is %d bytes, more than the %d a configuration may have", len(data), maxFileBytes))
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			l.yamlSyntax(file, err)
		}
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			l.yamlSyntax(file, err)
		} else {
			l.errs.add(fileOrigin+":"+strconv.Itoa(extra.Line), "", ErrSyntax, "a second YAML document: the configuration is one document")
		}
		return
	}
	d := &decoder{l: l, budget: maxNodes, origin: func(line int) string { return fileOrigin + ":" + strconv.Itoa(line) }}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return
		}
		root = root.Content[0]
	}
	d.section(root, "")
}

func (l *loader) yamlSyntax(file string, err error) {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		l.errs.add("yaml:"+file+":"+m[1], "", ErrSyntax, m[2])
		return
	}
	l.errs.add("yaml:"+file, "", ErrSyntax, strings.TrimPrefix(msg, "yaml: "))
}

// deref follows aliases and spends the node budget; nil when it is spent.
func (d *decoder) deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	if d.budget--; d.budget == 0 {
		d.l.errs.add(d.origin(n.Line), "", ErrSyntax, "too many nodes (aliases expand beyond "+strconv.Itoa(maxNodes)+")")
	}
	if d.budget <= 0 {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a scalar"
}

// section applies a mapping of the section prefix ("" is the root).
func (d *decoder) section(n *yaml.Node, prefix string) {
	if n = d.deref(n); n == nil || isNull(n) {
		return
	}
	name := strings.TrimSuffix(prefix, ".")
	if n.Kind != yaml.MappingNode {
		what := "the configuration"
		if name != "" {
			what = name
		}
		d.l.errs.add(d.origin(n.Line), name, ErrType, what+" must be a mapping of keys, got "+nodeKind(n))
		return
	}
	s := theSchema()
	d.mapping(n, prefix, func(k, v *yaml.Node) {
		key := prefix + k.Value
		switch {
		case s.sections[key]:
			d.section(v, key+".")
		case s.byKey[key] != nil:
			f := s.byKey[key]
			if d.set(f, key, d.l.cfg.value(f), v, d.origin(k.Line)) {
				d.l.record(f, d.origin(k.Line))
			}
		default:
			d.l.errs.add(d.origin(k.Line), key, ErrUnknownKey, "unknown key"+suggest(key))
		}
	})
}

// mapping calls each for every key of n, refusing non-scalar, merge and
// duplicate keys.
func (d *decoder) mapping(n *yaml.Node, prefix string, each func(k, v *yaml.Node)) {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.deref(n.Content[i]), n.Content[i+1]
		if k == nil {
			return
		}
		if k.Kind != yaml.ScalarNode {
			d.l.errs.add(d.origin(k.Line), strings.TrimSuffix(prefix, "."), ErrType, "a key must be a plain name, got "+nodeKind(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.l.errs.add(d.origin(k.Line), strings.TrimSuffix(prefix, "."), ErrSyntax, "merge keys (<<) are not supported; repeat the keys")
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.l.errs.add(d.origin(k.Line), prefix+k.Value, ErrSyntax, "key given twice (first on line "+strconv.Itoa(line)+")")
			continue
		}
		seen[k.Value] = k.Line
		each(k, v)
	}
}

// set applies node n to the field f (whose place is v) and reports whether
// it did; name is the key as errors print it. A null leaves the value as
// it was.
func (d *decoder) set(f *field, name string, v reflect.Value, n *yaml.Node, origin string) bool {
	if n = d.deref(n); n == nil || isNull(n) {
		return false
	}
	switch f.kind {
	case kindStrings:
		var list []string
		switch n.Kind {
		case yaml.ScalarNode:
			list = splitList(n.Value)
		case yaml.SequenceNode:
			list = make([]string, 0, len(n.Content))
			for i, it := range n.Content {
				if it = d.deref(it); it == nil {
					return false
				}
				if it.Kind != yaml.ScalarNode || isNull(it) {
					d.l.errs.add(d.origin(it.Line), name+"["+strconv.Itoa(i)+"]", ErrType, "expected a string, got "+nodeKind(it))
					return false
				}
				list = append(list, it.Value)
			}
		default:
			d.l.errs.add(origin, name, ErrType, "expected a list of strings, got "+nodeKind(n))
			return false
		}
		v.Set(reflect.ValueOf(list))
	case kindList:
		if n.Kind != yaml.SequenceNode {
			d.l.errs.add(origin, name, ErrType, "expected a list of mappings, got "+nodeKind(n))
			return false
		}
		list := reflect.MakeSlice(v.Type(), 0, len(n.Content))
		ok := true
		for i, it := range n.Content {
			elem := reflect.New(v.Type().Elem()).Elem()
			ok = d.item(f, name+"["+strconv.Itoa(i)+"]", elem, it) && ok
			list = reflect.Append(list, elem)
		}
		if !ok {
			return false
		}
		v.Set(list)
	default:
		if n.Kind != yaml.ScalarNode {
			d.l.errs.add(origin, name, ErrType, "expected "+kindName(f.kind)+", got "+nodeKind(n))
			return false
		}
		if err := parseScalar(v, f.kind, n.Value); err != nil {
			d.l.errs.add(origin, name, ErrType, err.Error())
			return false
		}
	}
	return true
}

// item decodes one mapping of a list key into elem.
func (d *decoder) item(f *field, name string, elem reflect.Value, n *yaml.Node) bool {
	if n = d.deref(n); n == nil {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.l.errs.add(d.origin(n.Line), name, ErrType, "expected a mapping, got "+nodeKind(n))
		return false
	}
	ok := true
	before := len(d.l.errs)
	d.mapping(n, name+".", func(k, v *yaml.Node) {
		it := f.itemField(k.Value)
		if it == nil {
			d.l.errs.add(d.origin(k.Line), name+"."+k.Value, ErrUnknownKey, "unknown key"+suggestAmong(k.Value, f.item))
			return
		}
		d.set(it, name+"."+k.Value, elem.FieldByIndex(it.index), v, d.origin(k.Line))
	})
	if len(d.l.errs) != before {
		ok = false
	}
	return ok
}

func kindName(k kind) string {
	switch k {
	case kindBool:
		return "a boolean"
	case kindInt:
		return "an integer"
	case kindDuration:
		return "a duration"
	case kindSize:
		return "a size"
	case kindStrings:
		return "a list of strings"
	case kindList:
		return "a list of mappings"
	}
	return "a string"
}

// suggest names the closest known key in the same section.
func suggest(key string) string {
	prefix, leaf := "", key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		prefix, leaf = key[:i+1], key[i+1:]
	}
	best, bestD := "", 3
	s := theSchema()
	consider := func(cand string) {
		rest, ok := strings.CutPrefix(cand, prefix)
		if !ok || strings.Contains(rest, ".") {
			return
		}
		dd := distance(leaf, rest)
		if len(leaf) >= 3 && (strings.HasPrefix(rest, leaf) || strings.HasPrefix(leaf, rest)) {
			dd = min(dd, 2)
		}
		if dd < bestD {
			best, bestD = cand, dd
		}
	}
	for _, f := range s.fields {
		consider(f.key)
	}
	for sec := range s.sections {
		consider(sec)
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

func suggestAmong(name string, fields []*field) string {
	best, bestD := "", 3
	for _, f := range fields {
		if dd := distance(name, f.key); dd < bestD {
			best, bestD = f.key, dd
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// distance is the Levenshtein distance of short ASCII names.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
