package flags

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeClientFeatures checks that no payload makes decoding,
// compiling, evaluating or serialising panic, and that what is serialised
// is valid JSON.
func FuzzDecodeClientFeatures(f *testing.F) {
	for _, sf := range readSpecFiles(f) {
		f.Add([]byte(sf.State))
	}
	f.Add([]byte(frontendState))
	f.Add([]byte(`{"version":2,"features":[{"name":"x","enabled":true,"strategies":[{"name":"flexibleRollout","parameters":{"rollout":"255","stickiness":"random"}}],"variants":[{"name":"a","weight":0}]}]}`))
	ctx := DatasetContext()
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := DecodeClientFeatures(data)
		if err != nil {
			return
		}
		p := Compile(cf)
		for _, c := range []*Context{nil, ctx} {
			out := p.AppendFrontend(nil, p.Scope(nil, ""), c, true)
			if !json.Valid(out) {
				t.Fatalf("AppendFrontend produced invalid JSON: %s", out)
			}
			for i := range cf.Features {
				p.IsEnabled(cf.Features[i].Name, c)
				p.GetVariant(cf.Features[i].Name, c)
			}
		}
		out := p.AppendClientFeatures(nil, p.Scope([]string{"default"}, ""), &Query{Projects: []string{"default"}})
		if !json.Valid(out) {
			t.Fatalf("AppendClientFeatures produced invalid JSON: %s", out)
		}
		var probe struct {
			Events []DeltaEvent `json:"events"`
		}
		if json.Unmarshal(data, &probe) == nil && len(probe.Events) > 0 {
			cf.ApplyDelta(probe.Events)
			Compile(cf)
		}
	})
}

// FuzzSemver checks parseSemver never panics, that what it accepts
// compares equal to itself, and that comparison is antisymmetric.
func FuzzSemver(f *testing.F) {
	for _, s := range []string{"1.2.3", "1.0.0-alpha.1", "2.0.0-rc.1+build.5", "v1.0.0", "01.0.0", "1.0.0-0.3.7", ""} {
		f.Add(s, "1.0.0-beta.2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, oka := parseSemver(a)
		vb, okb := parseSemver(b)
		if oka && compareSemver(va, va) != 0 {
			t.Fatalf("%q != itself", a)
		}
		if oka && okb && compareSemver(va, vb) != -compareSemver(vb, va) {
			t.Fatalf("compare(%q, %q) not antisymmetric", a, b)
		}
	})
}

// FuzzAppendJSONString checks the escaper against encoding/json.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\x00\x1f", "<>&", "\u2028", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("appendJSONString(%q) = %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("appendJSONString(%q) decodes to %q, encoding/json's to %q", s, back, wantBack)
		}
		if !bytes.Contains([]byte(s), []byte("\u2028")) && !bytes.Contains([]byte(s), []byte("\u2029")) {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s)
			if w := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
				t.Fatalf("appendJSONString(%q) = %s, encoding/json %s", s, got, w)
			}
		}
	})
}
