package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOfflineBrokenBootstrapNamesLineAndColumn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "features.json")
	if err := os.WriteFile(path, []byte("{\n  \"version\": 2,\n  \"features\": [\n    {\"name\": \"a\" \"enabled\": true}\n  ]\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run([]string{"offline", "-b", path, "-t", "*:development.x", "-p", "0", "-i", "127.0.0.1"}, &out, &out)
	if err == nil {
		t.Fatal("offline with a broken bootstrap file started")
	}
	if exitCode(err) != 1 || !strings.Contains(err.Error(), path+":4:18") {
		t.Fatalf("error = %v (exit %d), want exit 1 naming %s:4:18", err, exitCode(err), path)
	}
}

func TestOfflineUsageErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ok.json")
	if err := os.WriteFile(good, []byte(`{"a":{"enabled":true}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", []string{"offline", "-t", "x"}, "--bootstrap-file"},
		{"no tokens", []string{"offline", "-b", good}, "token"},
		{"demo and file", []string{"offline", "--demo", "-b", good}, "exclude"},
		{"bad allow list", []string{"offline", "-b", good, "-t", "x", "--allow-list", "10.0.0.0/33"}, "--allow-list"},
		{"negative reload", []string{"offline", "-b", good, "-t", "x", "-r", "-1"}, "negative"},
		{"bad log format", []string{"-l", "xml", "offline", "-b", good, "-t", "x"}, "log-format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(tt.args, &out, &out)
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%q) = %v (exit %d), want a usage error mentioning %q", tt.args, err, exitCode(err), tt.want)
			}
		})
	}
}
