package persist

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brink-edge/brink/flags"
)

func TestDecodeFeaturesErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{``, "unexpected end of input"},
		{`{}`, `got "{"`},
		{`null`, "got null"},
		{`[`, "unexpected end of input"},
		{`[{}]`, "entry 0"},
		{`["development"]`, "entry 0"},
		{`[[]]`, "entry 0: empty pair"},
		{`[["development"]]`, "no features"},
		{`[[1,{}]]`, "environment"},
		{`[[null,{}]]`, "environment is null"},
		{`[["development",null]]`, "features are null"},
		{`[["development",{}, {}]]`, "more than two elements"},
		{`[["development",{"version":2,"features":5}]]`, "features"},
		{`[["development",{"version":2,"features":[]}] x`, "invalid character"},
		{`[["development",{"version":2,"features":[]}]] []`, "after the array"},
		{`[["a",{"version":2,"features":[]}],["b",{"version":2,"features":[]}`, "unexpected end"},
	}
	for _, c := range cases {
		_, err := decodeFeatures(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("decodeFeatures(%q) = %v, want an error with %q", c.in, err, c.want)
		}
		if err != nil && !strings.Contains(err.Error(), "at byte") {
			t.Errorf("decodeFeatures(%q): error %q has no position", c.in, err)
		}
	}
}

func TestDecodeFeatures(t *testing.T) {
	got, err := decodeFeatures(strings.NewReader(` [ ["a", {"version":1,"features":[{"name":"x","enabled":true}]}] ,
		["b", {"version":2,"features":[],"unknownMember":{"ignored":[1,2]}}],
		["a", {"version":3,"features":[]}] ] `))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a"].Version != 3 || got["b"].Version != 2 {
		t.Errorf("got %+v; the last entry of an environment wins", got)
	}
	got, err = decodeFeatures(strings.NewReader(`[]`))
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty array: %v, %v", got, err)
	}
}

func TestDecodeTokens(t *testing.T) {
	in := `[
		{"token":"a:development.x","type":"client","environment":"development","projects":["a"],"status":"Validated"},
		{"token":"b:development.x","type":"invalid","environment":"development","projects":["b"],"status":"Invalid"},
		null,
		{"token":"","type":"client","projects":[],"status":"Validated"},
		{"token":"c:development.x","type":"BACKEND","environment":null,"projects":["c"]},
		{"token":"d:development.x","type":null,"environment":"development","projects":["d"],"status":"Unknown"}
	]`
	got, err := decodeTokens([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Raw != "a:development.x" || got[1].Type != flags.TokenClient || got[1].Status != flags.TokenValidated ||
		got[1].Environment != "" || got[2].Type != flags.TokenUntyped || got[2].Status != flags.TokenUnknown {
		t.Errorf("got %+v", got)
	}
	for _, bad := range []string{`{}`, `[1]`, `[{"token":5}]`, `[{"token":"a","type":7}]`, `[{"token":"a","projects":"x"}]`} {
		if _, err := decodeTokens([]byte(bad)); err == nil {
			t.Errorf("decodeTokens(%s) succeeded", bad)
		}
	}
	// null (which Edge never writes) reads as no tokens.
	if got, err := decodeTokens([]byte(`null`)); err != nil || len(got) != 0 {
		t.Errorf("null: %v, %v", got, err)
	}
}

func TestDecodeLastEventIDs(t *testing.T) {
	got, err := decodeLastEventIDs([]byte(`{"a":0,"b":4294967295,"c":4294967296}`))
	if err != nil || len(got) != 2 || got["a"] != 0 || got["b"] != 4294967295 {
		t.Errorf("got %v, %v; want ids beyond uint32 dropped", got, err)
	}
	for _, bad := range []string{`{"a":-1}`, `{"a":"1"}`, `{"a":1.5}`, `[]`} {
		if _, err := decodeLastEventIDs([]byte(bad)); err == nil {
			t.Errorf("decodeLastEventIDs(%s) succeeded", bad)
		}
	}
	if got, err := decodeLastEventIDs([]byte(`null`)); err != nil || got == nil {
		t.Errorf("null: %v, %v", got, err)
	}
}

func TestEncodeIsDeterministic(t *testing.T) {
	st := sampleState(t, 100)
	a, err := encodeState(st)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, err := encodeState(st)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.features, b.features) || !bytes.Equal(a.tokens, b.tokens) || !bytes.Equal(a.lastEventIDs, b.lastEventIDs) {
			t.Fatal("encoding the same state twice gave different bytes")
		}
	}
	if err := checkEdgeFeatures(a.features); err != nil {
		t.Errorf("generated dataset: %v", err)
	}
	// Encoding does not modify the state (a nil feature list is replaced
	// in a copy).
	st.Features["nil-list"] = &flags.ClientFeatures{Version: 2}
	if _, err := encodeState(st); err != nil {
		t.Fatal(err)
	}
	if st.Features["nil-list"].Features != nil {
		t.Error("encodeState modified the state")
	}
}

// FuzzLoadFeatures feeds arbitrary bytes to the features-file decoder: it
// must not panic, and what it accepts must survive a re-encode and decode
// unchanged.
func FuzzLoadFeatures(f *testing.F) {
	for _, name := range []string{
		filepath.Join("testdata", "edge-backup", FeaturesFile),
		filepath.Join("testdata", "golden", FeaturesFile),
	} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[]`))
	f.Add([]byte(`[["a",{"version":2,"features":[]}],["a",{"version":1,"features":null}]]`))
	f.Add([]byte(`[["",{}]]`))
	f.Add([]byte(`[[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeFeatures(bytes.NewReader(data))
		if err != nil {
			if got != nil {
				t.Fatal("decodeFeatures returned a result with its error")
			}
			return
		}
		enc, err := encodeFeatures(got)
		if err != nil {
			// Only values encoding/json cannot write back could fail.
			t.Fatalf("re-encoding accepted input: %v", err)
		}
		again, err := decodeFeatures(bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("decoding our own encoding: %v\n%s", err, enc)
		}
		enc2, err := encodeFeatures(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("not stable:\n%s\n%s", enc, enc2)
		}
		if len(again) != len(got) {
			t.Fatalf("%d environments became %d", len(got), len(again))
		}
	})
}

// benchState is 5,000 flags in each of 5 environments.
func benchState(b *testing.B) *flags.PersistedState {
	st := &flags.PersistedState{Features: map[string]*flags.ClientFeatures{}, LastEventIDs: map[string]uint32{}}
	for i := range 5 {
		env := fmt.Sprintf("env-%d", i)
		st.Features[env] = flags.GenerateDataset(5000, int64(i))
		st.LastEventIDs[env] = uint32(1000 + i)
		st.Tokens = append(st.Tokens, mustToken(b, "*:"+env+".secret", flags.TokenClient, flags.TokenValidated))
	}
	return st
}

func BenchmarkFileSave(b *testing.B) {
	st := benchState(b)
	f := newFile(b)
	ctx := context.Background()
	d, _ := encodeState(st)
	b.SetBytes(int64(len(d.features) + len(d.tokens) + len(d.lastEventIDs)))
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Save(ctx, st); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFileLoad(b *testing.B) {
	st := benchState(b)
	f := newFile(b)
	ctx := context.Background()
	if err := f.Save(ctx, st); err != nil {
		b.Fatal(err)
	}
	d, _ := encodeState(st)
	b.SetBytes(int64(len(d.features) + len(d.tokens) + len(d.lastEventIDs)))
	b.ReportAllocs()
	for b.Loop() {
		got, err := f.Load(ctx)
		if err != nil || len(got.Features) != 5 {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedisSave(b *testing.B) {
	srv := startRedis(b)
	st := benchState(b)
	r := newRedis(b, srv.Addr)
	ctx := context.Background()
	d, _ := encodeState(st)
	b.SetBytes(int64(len(d.features) + len(d.tokens) + len(d.lastEventIDs)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Save(ctx, st); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedisLoad(b *testing.B) {
	srv := startRedis(b)
	st := benchState(b)
	r := newRedis(b, srv.Addr)
	ctx := context.Background()
	if err := r.Save(ctx, st); err != nil {
		b.Fatal(err)
	}
	d, _ := encodeState(st)
	b.SetBytes(int64(len(d.features) + len(d.tokens) + len(d.lastEventIDs)))
	b.ReportAllocs()
	for b.Loop() {
		got, err := r.Load(ctx)
		if err != nil || len(got.Features) != 5 {
			b.Fatal(err)
		}
	}
}
