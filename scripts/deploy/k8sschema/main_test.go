package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestRun(t *testing.T) {
	swagger := `{"definitions":{
	  "io.k8s.apimachinery.pkg.util.intstr.IntOrString":{"type":"string","format":"int-or-string"},
	  "io.k8s.api.example.v1.Node":{"type":"object","properties":{"next":{"$ref":"#/definitions/io.k8s.api.example.v1.Node"},"port":{"$ref":"#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}}},
	  "io.k8s.api.example.v1.Widget":{"type":"object","required":["spec"],
	    "properties":{"apiVersion":{"type":"string"},"kind":{"type":"string"},"spec":{"$ref":"#/definitions/io.k8s.api.example.v1.Node"}},
	    "x-kubernetes-group-version-kind":[{"group":"example.k8s.io","version":"v1","kind":"Widget"}]},
	  "io.k8s.api.core.v1.Thing":{"type":"object","properties":{"a":{"type":"string"}},
	    "x-kubernetes-group-version-kind":[{"group":"","version":"v1","kind":"Thing"}]}
	}}`
	dir := t.TempDir()
	in := filepath.Join(dir, "swagger.json")
	if err := os.WriteFile(in, []byte(swagger), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	n, err := run(in, out)
	if err != nil || n != 2 {
		t.Fatalf("run = %d, %v; want 2 schemas", n, err)
	}
	if _, err := os.Stat(filepath.Join(out, "thing-v1.json")); err != nil {
		t.Errorf("core kind file: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(out, "widget-example-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s["additionalProperties"] != false {
		t.Error("root object is not strict")
	}
	props := s["properties"].(map[string]any)
	if e := props["kind"].(map[string]any)["enum"].([]any); len(e) != 1 || e[0] != "Widget" {
		t.Errorf("kind enum %v", e)
	}
	if e := props["apiVersion"].(map[string]any)["enum"].([]any); len(e) != 1 || e[0] != "example.k8s.io/v1" {
		t.Errorf("apiVersion enum %v", e)
	}
	defs := s["definitions"].(map[string]any)
	node, ok := defs["io.k8s.api.example.v1.Node"].(map[string]any)
	if !ok || node["additionalProperties"] != false {
		t.Errorf("recursive Node definition missing or not strict: %v", defs)
	}
	ios, ok := defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"].(map[string]any)
	if !ok || ios["oneOf"] == nil {
		t.Errorf("IntOrString not turned into string-or-integer: %v", ios)
	}
	if len(defs) != 2 {
		t.Errorf("%d reachable definitions, want 2 (Node, IntOrString)", len(defs))
	}

	if _, err := run(filepath.Join(dir, "missing.json"), out); err == nil {
		t.Error("run on a missing file succeeded")
	}
	if err := os.WriteFile(in, []byte(`{"definitions":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(in, out); err == nil {
		t.Error("run on an empty document succeeded")
	}
}
