// Command k8sschema turns the Kubernetes OpenAPI v2 document
// (api/openapi-spec/swagger.json of the k8s.io/kubernetes module) into the
// per-kind JSON schemas kubeconform reads, so manifests can be validated
// with no schema download: scripts/install-deploy-deps.sh runs it.
//
// Each kind gets one self-contained file named as kubeconform's
// {{ .ResourceKind }}{{ .KindSuffix }}.json template expects
// (deployment-apps-v1.json, service-v1.json): the kind's definition at the
// root, with apiVersion and kind pinned to that kind, and every definition
// it reaches under "definitions", referenced as "#/definitions/<name>" so
// recursive types need no inlining. The schemas are strict in the way of
// kubeconform's "-strict" flavour: an object with declared properties
// admits no other (additionalProperties false), so a misspelt field is an
// error. IntOrString and Quantity accept a string or a number, as the API
// server does.
//
// Usage:
//
//	go run ./scripts/deploy/k8sschema -in swagger.json -out DIR
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	in := flag.String("in", "", "the Kubernetes swagger.json")
	out := flag.String("out", "", "directory for the per-kind schemas")
	flag.Parse()
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: k8sschema -in swagger.json -out DIR")
		os.Exit(2)
	}
	n, err := run(*in, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8sschema:", err)
		os.Exit(1)
	}
	fmt.Printf("k8sschema: %d schemas written to %s\n", n, *out)
}

type gvk struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

func run(in, out string) (int, error) {
	raw, err := os.ReadFile(in)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return 0, fmt.Errorf("parsing %s: %w", in, err)
	}
	if len(doc.Definitions) == 0 {
		return 0, fmt.Errorf("%s has no definitions", in)
	}
	defs := make(map[string]any, len(doc.Definitions))
	for name, d := range doc.Definitions {
		switch {
		case strings.HasSuffix(name, ".util.intstr.IntOrString"):
			defs[name] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
		case strings.HasSuffix(name, ".api.resource.Quantity"):
			defs[name] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
		default:
			defs[name] = strict(d)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	names := make([]string, 0, len(doc.Definitions))
	for name := range doc.Definitions {
		names = append(names, name)
	}
	sort.Strings(names)
	n := 0
	for _, name := range names {
		var kinds []gvk
		if x, ok := doc.Definitions[name]["x-kubernetes-group-version-kind"]; ok {
			b, _ := json.Marshal(x)
			if err := json.Unmarshal(b, &kinds); err != nil {
				return n, fmt.Errorf("definition %s: x-kubernetes-group-version-kind: %w", name, err)
			}
		}
		for _, k := range kinds {
			root := clone(defs[name]).(map[string]any)
			apiVersion := k.Version
			suffix := "-" + strings.ToLower(k.Version)
			if k.Group != "" {
				apiVersion = k.Group + "/" + k.Version
				suffix = "-" + strings.ToLower(strings.Split(k.Group, ".")[0]) + "-" + strings.ToLower(k.Version)
			}
			props, _ := root["properties"].(map[string]any)
			if props == nil {
				continue
			}
			props["apiVersion"] = map[string]any{"type": "string", "enum": []any{apiVersion}}
			props["kind"] = map[string]any{"type": "string", "enum": []any{k.Kind}}
			root["required"] = union(root["required"], "apiVersion", "kind")
			reach := map[string]any{}
			collect(root, defs, reach)
			root["definitions"] = reach
			root["$schema"] = "http://json-schema.org/draft-07/schema#"
			b, err := json.Marshal(root)
			if err != nil {
				return n, fmt.Errorf("definition %s: %w", name, err)
			}
			file := filepath.Join(out, strings.ToLower(k.Kind)+suffix+".json")
			if err := os.WriteFile(file, b, 0o644); err != nil {
				return n, err
			}
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("%s: no definition names a group-version-kind", in)
	}
	return n, nil
}

// strict returns v with additionalProperties false on every object schema
// that declares properties and says nothing about others.
func strict(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x)+1)
		for k, e := range x {
			if k == "properties" {
				// Property names are not schemas; their values are.
				ps := map[string]any{}
				for pn, pv := range e.(map[string]any) {
					ps[pn] = strict(pv)
				}
				m[k] = ps
				continue
			}
			m[k] = strict(e)
		}
		if _, ok := m["properties"]; ok {
			if _, ok := m["additionalProperties"]; !ok {
				m["additionalProperties"] = false
			}
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = strict(e)
		}
		return s
	}
	return v
}

func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = clone(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = clone(e)
		}
		return s
	}
	return v
}

// collect adds to reach every definition v references, transitively.
func collect(v any, defs map[string]any, reach map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/definitions/")
			if _, seen := reach[name]; !seen {
				d, ok := defs[name]
				if !ok {
					d = map[string]any{} // dangling in the source: accept anything
				}
				reach[name] = d
				collect(d, defs, reach)
			}
		}
		for k, e := range x {
			if k != "definitions" {
				collect(e, defs, reach)
			}
		}
	case []any:
		for _, e := range x {
			collect(e, defs, reach)
		}
	}
}

func union(have any, add ...string) []any {
	var out []any
	seen := map[string]bool{}
	if l, ok := have.([]any); ok {
		for _, e := range l {
			if s, ok := e.(string); ok && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	for _, s := range add {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
