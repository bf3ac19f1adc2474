package persist

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brink-edge/brink/flags"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func mustToken(t testing.TB, raw string, typ flags.TokenType, status flags.TokenStatus) flags.Token {
	t.Helper()
	tok, err := flags.ParseToken(raw)
	if err != nil {
		t.Fatalf("ParseToken(%q): %v", raw, err)
	}
	tok.Type, tok.Status = typ, status
	return tok
}

// sampleState is a state with every kind of token and two environments of
// generated flags.
func sampleState(t testing.TB, nflags int) *flags.PersistedState {
	t.Helper()
	return &flags.PersistedState{
		Tokens: []flags.Token{
			mustToken(t, "*:development.secret-client", flags.TokenClient, flags.TokenValidated),
			mustToken(t, "default:production.secret-frontend", flags.TokenFrontend, flags.TokenValidated),
			mustToken(t, "default:production.secret-invalid", flags.TokenClient, flags.TokenInvalid),
			mustToken(t, "default:production.secret-unknown", flags.TokenUntyped, flags.TokenUnknown),
			mustToken(t, "default:production.secret-trusted", flags.TokenFrontend, flags.TokenTrusted),
		},
		Features: map[string]*flags.ClientFeatures{
			"development": flags.GenerateDataset(nflags, 1),
			"production":  flags.GenerateDataset(nflags, 2),
		},
		LastEventIDs: map[string]uint32{"development": 42, "production": 4294967295},
	}
}

// validatedOnly is what a store gives back for st's tokens.
func validatedOnly(tokens []flags.Token) []flags.Token {
	var out []flags.Token
	for _, t := range tokens {
		if t.Status == flags.TokenValidated {
			out = append(out, t)
		}
	}
	return out
}

// sameState fails t unless got is want as a store gives it back: the
// validated tokens, and features and event ids that encode to the same
// bytes.
func sameState(t testing.TB, got, want *flags.PersistedState) {
	t.Helper()
	if got == nil {
		t.Fatal("loaded state is nil")
	}
	gd, err := encodeState(got)
	if err != nil {
		t.Fatal(err)
	}
	wd, err := encodeState(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gd.tokens, wd.tokens) {
		t.Errorf("tokens:\n got %s\nwant %s", gd.tokens, wd.tokens)
	}
	if len(got.Tokens) != len(validatedOnly(want.Tokens)) {
		t.Errorf("got %d tokens, want %d", len(got.Tokens), len(validatedOnly(want.Tokens)))
	}
	if !bytes.Equal(gd.features, wd.features) {
		t.Errorf("features differ (%d bytes vs %d)", len(gd.features), len(wd.features))
	}
	if !bytes.Equal(gd.lastEventIDs, wd.lastEventIDs) {
		t.Errorf("last event ids: got %s, want %s", gd.lastEventIDs, wd.lastEventIDs)
	}
}

func newFile(t testing.TB) *File {
	t.Helper()
	f, err := NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFileRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := newFile(t)
	want := sampleState(t, 200)
	if err := f.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	// A fresh File on the same folder, as after a restart.
	f2, err := NewFile(f.Dir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := f2.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, want)
	for _, tok := range got.Tokens {
		if tok.Status != flags.TokenValidated {
			t.Errorf("token %s loaded with status %v; only validated tokens are saved", tok.Anonymised(), tok.Status)
		}
	}
	if got.Tokens[0].Raw != "*:development.secret-client" || got.Tokens[0].Type != flags.TokenClient ||
		got.Tokens[0].Environment != "development" || got.Tokens[0].Projects[0] != "*" {
		t.Errorf("first token = %+v", got.Tokens[0])
	}
	if got.LastEventIDs["production"] != 4294967295 {
		t.Errorf("LastEventIDs = %v", got.LastEventIDs)
	}
	if n := len(got.Features["development"].Features); n != 200 {
		t.Errorf("development has %d flags, want 200", n)
	}

	// Saving again replaces everything, including with an empty state.
	if err := f.Save(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got, err = f.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || len(got.Tokens) != 0 || len(got.Features) != 0 || len(got.LastEventIDs) != 0 {
		t.Errorf("after saving an empty state, Load = %+v", got)
	}
}

func TestFileLoadNothingSaved(t *testing.T) {
	f := newFile(t)
	st, err := f.Load(context.Background())
	if st != nil || err != nil {
		t.Fatalf("Load of an empty folder = %v, %v; want nil, nil", st, err)
	}
}

func TestFileLoadMissingFilesAreEmpty(t *testing.T) {
	f := newFile(t)
	if err := os.WriteFile(filepath.Join(f.Dir(), FeaturesFile), []byte(`[["development",{"version":2,"features":[{"name":"a","enabled":true}]}]]`), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := f.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st == nil || st.Tokens == nil || len(st.Tokens) != 0 || st.LastEventIDs == nil || len(st.Features) != 1 {
		t.Fatalf("Load = %+v", st)
	}
	if st.Features["development"].Features[0].Name != "a" {
		t.Errorf("features = %+v", st.Features["development"])
	}
}

func TestFileLoadCorruptNamesTheFile(t *testing.T) {
	cases := []struct {
		file, content, want string
	}{
		{TokensFile, `[{"token":`, "corrupt tokens"},
		{TokensFile, `{"token":"a"}`, "corrupt tokens"},
		{TokensFile, ``, "corrupt tokens"},
		{FeaturesFile, `[["development",{"version":2,"features":[`, "unexpected"},
		{FeaturesFile, `{"development":{}}`, "want an array"},
		{FeaturesFile, `[["development",{"version":"two","features":[]}]]`, "version"},
		{FeaturesFile, ``, "corrupt features"},
		{LastEventIDsFile, `{"development":-1}`, "corrupt last event ids"},
		{LastEventIDsFile, `[1]`, "corrupt last event ids"},
	}
	for _, c := range cases {
		t.Run(c.file+"/"+c.content, func(t *testing.T) {
			f := newFile(t)
			if err := f.Save(context.Background(), sampleState(t, 3)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(f.Dir(), c.file)
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			st, err := f.Load(context.Background())
			if err == nil {
				t.Fatalf("Load of a corrupt %s succeeded: %+v", c.file, st)
			}
			if st != nil {
				t.Errorf("Load returned a state with its error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q should name %s and say %q", err, path, c.want)
			}
		})
	}
}

func TestFileLoadUnreadable(t *testing.T) {
	f := newFile(t)
	// A directory where the file should be cannot be read.
	path := filepath.Join(f.Dir(), TokensFile)
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := f.Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load = %v; want an error naming %s", err, path)
	}
}

func TestNewFileCreatesFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "backup")
	f, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("folder not created: %v", err)
	}
	if err := f.Save(context.Background(), sampleState(t, 2)); err != nil {
		t.Fatal(err)
	}
}

func TestNewFileErrors(t *testing.T) {
	base := t.TempDir()
	regular := filepath.Join(base, "file")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"", regular, filepath.Join(regular, "sub")} {
		f, err := NewFile(dir)
		if err == nil {
			t.Errorf("NewFile(%q) = %v, want an error", dir, f)
			continue
		}
		if dir != "" && !strings.Contains(err.Error(), dir) {
			t.Errorf("NewFile(%q): error %q does not name the folder", dir, err)
		}
		if !strings.Contains(err.Error(), "backup folder") && !strings.Contains(err.Error(), "--backup-folder") {
			t.Errorf("NewFile(%q): error %q does not say what it is about", dir, err)
		}
	}
	if os.Geteuid() != 0 { // root may write anywhere
		ro := filepath.Join(base, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		if _, err := NewFile(filepath.Join(ro, "backup")); err == nil || !strings.Contains(err.Error(), "cannot be created") {
			t.Errorf("NewFile under a read-only folder: %v", err)
		}
	}
}

func TestFileModes(t *testing.T) {
	f := newFile(t)
	ctx := context.Background()
	if err := f.Save(ctx, sampleState(t, 2)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{TokensFile, FeaturesFile, LastEventIDsFile} {
		fi, err := os.Stat(filepath.Join(f.Dir(), name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	// A mode the operator chose is kept.
	features := filepath.Join(f.Dir(), FeaturesFile)
	if err := os.Chmod(features, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(ctx, sampleState(t, 2)); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(features); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode after save %v, want 0640 kept", fi.Mode().Perm())
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(f.Dir())
	if len(entries) != 3 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("folder holds %v, want the three files only", names)
	}
}

var errCrash = errors.New("simulated crash")

// TestFileFailedRenameKeepsOldFiles: a save that fails between writing the
// temporary file and renaming it leaves the old files as they were and no
// temporary file behind.
func TestFileFailedRenameKeepsOldFiles(t *testing.T) {
	ctx := context.Background()
	f := newFile(t)
	old := sampleState(t, 20)
	if err := f.Save(ctx, old); err != nil {
		t.Fatal(err)
	}
	before := readFiles(t, f.Dir())
	var tmps []string
	f.rename = func(oldpath, newpath string) error {
		if _, err := os.Stat(oldpath); err != nil {
			t.Errorf("temporary file %s missing at rename: %v", oldpath, err)
		}
		if filepath.Dir(oldpath) != filepath.Dir(newpath) {
			t.Errorf("temporary file %s is not in the folder of %s", oldpath, newpath)
		}
		tmps = append(tmps, oldpath)
		return errCrash
	}
	err := f.Save(ctx, sampleState(t, 30))
	if !errors.Is(err, errCrash) || !strings.Contains(err.Error(), FeaturesFile) {
		t.Fatalf("Save = %v, want the crash naming %s", err, FeaturesFile)
	}
	for _, tmp := range tmps {
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Errorf("temporary file %s left behind", tmp)
		}
	}
	if after := readFiles(t, f.Dir()); !equalFiles(before, after) {
		t.Error("files changed by a save whose rename failed")
	}
	f.rename = os.Rename
	got, err := f.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, old)
}

// TestFileCrashBeforeRename kills a process (os.Exit, no deferred cleanup)
// between writing the temporary features file and renaming it: the old
// files load intact, the leftover temporary file is ignored by Load and
// removed by a later NewFile once stale.
func TestFileCrashBeforeRename(t *testing.T) {
	if dir := os.Getenv("PERSIST_CRASH_DIR"); dir != "" {
		crashingSave(dir) // child process: never returns
	}
	ctx := context.Background()
	f := newFile(t)
	old := sampleState(t, 20)
	if err := f.Save(ctx, old); err != nil {
		t.Fatal(err)
	}
	before := readFiles(t, f.Dir())

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestFileCrashBeforeRename$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PERSIST_CRASH_DIR="+f.Dir())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("crashing child: %v, want exit status 3; output:\n%s", err, out)
	}

	leftovers, _ := filepath.Glob(filepath.Join(f.Dir(), tempPattern(FeaturesFile)))
	if len(leftovers) != 1 {
		t.Fatalf("want the crashed save's temporary file, found %v", leftovers)
	}
	if fi, err := os.Stat(leftovers[0]); err != nil || fi.Size() == 0 {
		t.Fatalf("temporary file should hold the new features: %v", err)
	}
	after := readFiles(t, f.Dir())
	delete(after, filepath.Base(leftovers[0]))
	if !equalFiles(before, after) {
		t.Error("the crash changed the saved files")
	}
	got, err := f.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, old)

	// A fresh leftover is kept (it could be another writer's), a stale
	// one is removed.
	if _, err := NewFile(f.Dir()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftovers[0]); err != nil {
		t.Errorf("fresh temporary file removed: %v", err)
	}
	stale := time.Now().Add(-2 * staleTemp)
	if err := os.Chtimes(leftovers[0], stale, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFile(f.Dir()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftovers[0]); !os.IsNotExist(err) {
		t.Errorf("stale temporary file not removed: %v", err)
	}
	if len(readFiles(t, f.Dir())) != 3 {
		t.Error("NewFile removed more than the temporary file")
	}
}

// crashingSave runs in the child process of TestFileCrashBeforeRename.
func crashingSave(dir string) {
	f, err := NewFile(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f.rename = func(_, _ string) error {
		os.Exit(3) // the process dies with the temporary file written and synced
		return nil
	}
	st := &flags.PersistedState{Features: map[string]*flags.ClientFeatures{"development": flags.GenerateDataset(5, 9)}}
	err = f.Save(context.Background(), st)
	fmt.Fprintln(os.Stderr, "Save returned:", err)
	os.Exit(1)
}

func readFiles(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

func equalFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// TestFileLoadEdgeBackup loads a backup folder as Unleash Edge writes it
// (testdata/edge-backup, written after Edge's examples/backup files).
func TestFileLoadEdgeBackup(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{TokensFile, FeaturesFile, LastEventIDsFile} {
		b, err := os.ReadFile(filepath.Join("testdata", "edge-backup", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkEdgeSample(t, st)

	// What brink writes back is still in Edge's shape.
	if err := f.Save(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	files := readFiles(t, dir)
	if err := checkEdgeTokens(files[TokensFile]); err != nil {
		t.Error(err)
	}
	if err := checkEdgeFeatures(files[FeaturesFile]); err != nil {
		t.Error(err)
	}
	if err := checkEdgeLastEventIDs(files[LastEventIDsFile]); err != nil {
		t.Error(err)
	}
	st2, err := f.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, st2, st)
}

// checkEdgeSample checks the state loaded from testdata/edge-backup.
func checkEdgeSample(t testing.TB, st *flags.PersistedState) {
	t.Helper()
	if st == nil {
		t.Fatal("nil state")
	}
	// The "invalid"-typed token is dropped; the others load.
	if len(st.Tokens) != 3 {
		t.Fatalf("tokens = %+v, want 3", st.Tokens)
	}
	c := st.Tokens[0]
	if c.Raw != "*:development.be7536c3a160ff15e3a92da45de531dd54bc1ae15d8455c0476f086b" || c.Type != flags.TokenClient ||
		c.Status != flags.TokenValidated || c.Environment != "development" || len(c.Projects) != 1 || c.Projects[0] != "*" {
		t.Errorf("client token = %+v", c)
	}
	if b := st.Tokens[1]; b.Type != flags.TokenClient || len(b.Projects) != 2 || b.Environment != "production" {
		t.Errorf("backend token = %+v", b)
	}
	if fe := st.Tokens[2]; fe.Type != flags.TokenFrontend || fe.Status != flags.TokenValidated {
		t.Errorf("frontend token = %+v", fe)
	}
	if len(st.Features) != 2 {
		t.Fatalf("environments = %v", st.Features)
	}
	dev := st.Features["development"]
	if dev == nil || len(dev.Features) != 3 || dev.Features[1].Name != "flag-1" || len(dev.Segments) != 1 ||
		dev.Meta == nil || dev.Meta.RevisionID == nil || *dev.Meta.RevisionID != 2210 || dev.Query == nil {
		t.Errorf("development = %+v", dev)
	}
	wd := dev.Features[2]
	if wd.CreatedAt == nil || *wd.CreatedAt != "2024-01-02T03:04:05.123Z" || len(wd.Dependencies) != 1 ||
		wd.Variants[0].Overrides[0].Values[0] != "7" || wd.Strategies[0].Segments[0] != 1 {
		t.Errorf("with-deps = %+v", wd)
	}
	if p := dev.Features[1].Strategies[0].Variants[0].Payload; p == nil || p.Value != `{"name": "Adeel <Solangi>"}` {
		t.Errorf("payload = %+v", p)
	}
	if prod := st.Features["production"]; prod == nil || len(prod.Features) != 1 || prod.Features[0].Enabled {
		t.Errorf("production = %+v", prod)
	}
	if st.LastEventIDs["development"] != 42 || st.LastEventIDs["production"] != 7 {
		t.Errorf("last event ids = %v", st.LastEventIDs)
	}
}

// goldenState is a small, fixed state for the golden files.
func goldenState(t testing.TB) *flags.PersistedState {
	rev := 7
	etag := `"abc:7"`
	enabled := false
	created := "2025-03-01T10:00:00Z"
	order := 0
	return &flags.PersistedState{
		Tokens: []flags.Token{
			mustToken(t, "*:production.0123456789abcdef", flags.TokenClient, flags.TokenValidated),
			mustToken(t, "[]:production.fedcba9876543210", flags.TokenFrontend, flags.TokenValidated),
			mustToken(t, "default:production.notvalidated", flags.TokenClient, flags.TokenInvalid),
		},
		Features: map[string]*flags.ClientFeatures{
			"production": {
				Version: 2,
				Features: []flags.Feature{{
					Name: "checkout.new-flow", Type: "release", Description: "a <b> & c", CreatedAt: &created,
					Enabled: true, Project: "checkout",
					Strategies: []flags.Strategy{{
						Name: "flexibleRollout", SortOrder: &order, Segments: []int{1},
						Constraints: []flags.Constraint{{ContextName: "userId", Operator: "IN", Values: []string{"1", "2"}}},
						Parameters:  map[string]string{"rollout": "50", "stickiness": "default", "groupId": "checkout.new-flow"},
						Variants:    []flags.Variant{{Name: "v1", Weight: 1000, WeightType: "variable", Stickiness: "default", Payload: &flags.Payload{Type: "json", Value: `{"a":1}`}}},
					}},
					Variants:     []flags.Variant{{Name: "blue", Weight: 1000, WeightType: "fix", Overrides: []flags.Override{{ContextName: "userId", Values: []string{"9"}}}}},
					Dependencies: []flags.Dependency{{Feature: "base", Enabled: &enabled}},
				}, {Name: "base", Enabled: false, Strategies: []flags.Strategy{}, Variants: []flags.Variant{}}},
				Segments: []flags.Segment{{ID: 1, Constraints: []flags.Constraint{{ContextName: "appName", Operator: "STR_STARTS_WITH", CaseInsensitive: true, Values: []string{"web"}}}}},
				Query:    &flags.Query{Projects: []string{"*"}, Environment: "production"},
				Meta:     &flags.Meta{ETag: &etag, RevisionID: &rev},
			},
			"development": {Version: 2}, // nil feature list: written as []
			"staging":     nil,          // left out
		},
		LastEventIDs: map[string]uint32{"production": 7, "development": 1},
	}
}

// TestGoldenFormat pins the bytes Save writes and checks them against
// Unleash Edge's shapes. Run with -update to rewrite testdata/golden.
func TestGoldenFormat(t *testing.T) {
	f := newFile(t)
	if err := f.Save(context.Background(), goldenState(t)); err != nil {
		t.Fatal(err)
	}
	files := readFiles(t, f.Dir())
	checks := map[string]func([]byte) error{
		TokensFile:       checkEdgeTokens,
		FeaturesFile:     checkEdgeFeatures,
		LastEventIDsFile: checkEdgeLastEventIDs,
	}
	for name, check := range checks {
		got := files[name]
		if err := check(got); err != nil {
			t.Errorf("%s: %v\n%s", name, err, got)
		}
		golden := filepath.Join("testdata", "golden", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -run TestGoldenFormat -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	// The shape checker itself accepts Edge's own files and rejects what
	// Edge would reject.
	for name, check := range checks {
		b, err := os.ReadFile(filepath.Join("testdata", "edge-backup", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := check(b); err != nil {
			t.Errorf("edge-backup/%s: %v", name, err)
		}
	}
	for _, bad := range []string{
		`{"development":{}}`,
		`[["development",{"version":2}]]`,
		`[["development",{"version":2,"features":null}]]`,
		`[["development",{"version":2,"features":[{"name":"a"}]}]]`,
		`[["development",{"version":2,"features":[],"segments":[{"id":1,"constraints":null}]}]]`,
		`[["development",{"version":2,"features":[{"name":"a","enabled":true,"variants":[{"name":"v","weight":1,"weightType":"odd"}]}]}]]`,
	} {
		if checkEdgeFeatures([]byte(bad)) == nil {
			t.Errorf("shape checker accepted %s", bad)
		}
	}
}

func TestFileConcurrentSaveLoad(t *testing.T) {
	ctx := context.Background()
	f := newFile(t)
	states := []*flags.PersistedState{sampleState(t, 10), sampleState(t, 20)}
	if err := f.Save(ctx, states[0]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				if w%2 == 0 {
					if err := f.Save(ctx, states[(w+i)%2]); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				st, err := f.Load(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n := len(st.Features["development"].Features); n != 10 && n != 20 {
					t.Errorf("loaded %d flags", n)
				}
			}
		}()
	}
	wg.Wait()
}

func TestFileCanceledContext(t *testing.T) {
	f := newFile(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Save(ctx, sampleState(t, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Save = %v", err)
	}
	if _, err := f.Load(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Load = %v", err)
	}
}
