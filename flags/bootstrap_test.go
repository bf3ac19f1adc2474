package flags

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDecodeBootstrapSimple(t *testing.T) {
	cf, err := DecodeBootstrap([]byte(`{
  "featureOne": {"enabled": true, "variant": "variantOne"},
  "featureTwo": {"enabled": false, "variant": "variantTwo"},
  "featureThree": {"enabled": true}
}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.Features) != 3 {
		t.Fatalf("got %d features, want 3", len(cf.Features))
	}
	plan := Compile(cf)
	var ctx Context
	tests := []struct {
		name        string
		enabled     bool
		variant     string
		variantOn   bool
		featureOn   bool
		wantVariant bool
	}{
		{"featureOne", true, "variantOne", true, true, true},
		{"featureTwo", false, "disabled", false, false, true},
		{"featureThree", true, "disabled", false, true, true},
	}
	for _, tt := range tests {
		if got := plan.IsEnabled(tt.name, &ctx); got != tt.enabled {
			t.Errorf("IsEnabled(%q) = %v, want %v", tt.name, got, tt.enabled)
		}
		v := plan.GetVariant(tt.name, &ctx)
		if v.Name != tt.variant || v.Enabled != tt.variantOn || v.FeatureEnabled != tt.featureOn {
			t.Errorf("GetVariant(%q) = %+v, want %s/%v/%v", tt.name, v, tt.variant, tt.variantOn, tt.featureOn)
		}
	}
}

func TestDecodeBootstrapFull(t *testing.T) {
	cf, err := DecodeBootstrap([]byte(`{"version":2,"features":[{"name":"a","enabled":true,"strategies":[{"name":"default"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.Features) != 1 || cf.Features[0].Name != "a" {
		t.Fatalf("got %+v", cf.Features)
	}
}

func TestDecodeBootstrapErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		line     int
		col      int
		contains string
	}{
		{"empty", "  \n", 0, 0, "empty"},
		{"syntax", "{\n  \"version\": 2,\n  \"features\": [\n    {\"name\": \"a\",}\n  ]\n}", 4, 18, "invalid character"},
		{"type", "{\"version\": 2,\n \"features\": [{\"name\": 5}]}", 2, 24, "string"},
		{"neither", `{"hello": "world"}`, 1, 1, "neither"},
		{"array", `[1,2]`, 1, 1, "neither"},
		{"truncated", "{\"version\": 2,\n \"features\": [", 2, 14, "unexpected end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBootstrap([]byte(tt.in))
			var be *BootstrapError
			if !errors.As(err, &be) {
				t.Fatalf("DecodeBootstrap(%q) error = %v, want *BootstrapError", tt.in, err)
			}
			if be.Line != tt.line || be.Column != tt.col {
				t.Errorf("position = %d:%d, want %d:%d (%v)", be.Line, be.Column, tt.line, tt.col, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not mention %q", err, tt.contains)
			}
		})
	}
}

func TestLoadBootstrapFileNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "features.json")
	if err := os.WriteFile(path, []byte("{\n\"features\": [}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadBootstrapFile(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2:") {
		t.Fatalf("error = %v, want it to start with %s:2:", err, path)
	}
}

func TestOfflineReloadKeepsLastGoodState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "features.json")
	write := func(s string) {
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"one": {"enabled": true}}`)
	store := new(Store)
	o, err := NewOffline(OfflineConfig{Path: path, Store: store, ReloadInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	first := store.Load("development")
	if first == nil || first.Plan.Len() != 1 {
		t.Fatalf("first snapshot = %+v", first)
	}
	if changed, err := o.Reload(); changed || err != nil {
		t.Fatalf("Reload of an unchanged file = %v, %v; want false, nil", changed, err)
	}
	write(`{"one": {"enabled": true}, "two": {"enabled": false}`)
	if changed, err := o.Reload(); changed || err == nil {
		t.Fatalf("Reload of a broken file = %v, %v; want false and an error", changed, err)
	}
	if got := store.Load(""); got != first {
		t.Fatalf("broken reload replaced the snapshot")
	}
	write(`{"one": {"enabled": true}, "two": {"enabled": false}}`)
	if changed, err := o.Reload(); !changed || err != nil {
		t.Fatalf("Reload of a fixed file = %v, %v; want true, nil", changed, err)
	}
	if got := store.Load(""); got.Plan.Len() != 2 || got.Version <= first.Version {
		t.Fatalf("snapshot after reload = %+v", got)
	}
}

func TestNewOfflineMissingFile(t *testing.T) {
	_, err := NewOffline(OfflineConfig{Path: filepath.Join(t.TempDir(), "nope.json")})
	if err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Fatalf("error = %v, want one naming the file", err)
	}
}

func FuzzDecodeBootstrap(f *testing.F) {
	f.Add([]byte(`{"a":{"enabled":true,"variant":"v"}}`))
	f.Add([]byte(`{"version":2,"features":[{"name":"a","enabled":true,"strategies":[{"name":"default"}]}]}`))
	f.Add([]byte(`{"features":[`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := DecodeBootstrap(data)
		if err != nil {
			return
		}
		plan := Compile(cf)
		var ctx Context
		ctx.Set("userId", "u1")
		sc := plan.Scope(nil, "")
		_ = plan.AppendFrontend(nil, sc, &ctx, true)
	})
}
