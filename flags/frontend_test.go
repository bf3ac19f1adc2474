package flags

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const frontendState = `{"version":2,"features":[
 {"name":"b.on","enabled":true,"impressionData":true,"project":"web","strategies":[{"name":"default"}],
  "variants":[{"name":"blue","weight":1000,"stickiness":"default","payload":{"type":"string","value":"<b>&\"x\""}}]},
 {"name":"a.off","enabled":false,"project":"default","strategies":[{"name":"default"}]},
 {"name":"c.novariant","enabled":true,"strategies":[]},
 {"name":"d.web","enabled":true,"project":"web","strategies":[{"name":"flexibleRollout","parameters":{"rollout":"100","stickiness":"userId"}}]}
]}`

func mustPlan(t *testing.T, state string) *Plan {
	t.Helper()
	cf, err := DecodeClientFeatures([]byte(state))
	if err != nil {
		t.Fatal(err)
	}
	return Compile(cf)
}

func TestAppendFrontendBytes(t *testing.T) {
	p := mustPlan(t, frontendState)
	var ctx Context
	ctx.Set("userId", "7")
	got := string(p.AppendFrontend(nil, nil, &ctx, true))
	want := `{"toggles":[` +
		`{"name":"a.off","enabled":false,"variant":{"name":"disabled","enabled":false,"payload":null},"impression_data":false,"impressionData":false},` +
		`{"name":"b.on","enabled":true,"variant":{"name":"blue","enabled":true,"payload":{"type":"string","value":"<b>&\"x\""}},"impression_data":true,"impressionData":true},` +
		`{"name":"c.novariant","enabled":true,"variant":{"name":"disabled","enabled":false,"payload":null},"impression_data":false,"impressionData":false},` +
		`{"name":"d.web","enabled":true,"variant":{"name":"disabled","enabled":false,"payload":null},"impression_data":false,"impressionData":false}` +
		`]}`
	if got != want {
		t.Errorf("AppendFrontend(all)\n got %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Errorf("invalid JSON")
	}

	// Only enabled toggles; d.web needs a userId.
	got = string(p.AppendFrontend(nil, p.Scope([]string{"web"}, ""), nil, false))
	if !strings.Contains(got, `"b.on"`) || strings.Contains(got, `"d.web"`) || strings.Contains(got, `"c.novariant"`) {
		t.Errorf("AppendFrontend(web scope, enabled only) = %s", got)
	}
	if got := string(p.AppendFrontend(nil, p.Scope([]string{"none"}, ""), nil, true)); got != `{"toggles":[]}` {
		t.Errorf("empty scope = %s", got)
	}

	b, ok := p.AppendFrontendFeature([]byte("x"), nil, "a.off", nil)
	if !ok || !strings.HasPrefix(string(b), `x{"name":"a.off","enabled":false`) {
		t.Errorf("AppendFrontendFeature(a.off) = %s, %v", b, ok)
	}
	if b, ok := p.AppendFrontendFeature(nil, p.Scope([]string{"web"}, ""), "a.off", nil); ok || len(b) != 0 {
		t.Errorf("AppendFrontendFeature outside scope = %s, %v", b, ok)
	}
	if _, ok := p.AppendFrontendFeature(nil, nil, "missing", nil); ok {
		t.Errorf("AppendFrontendFeature(missing) = true")
	}
}

func TestScope(t *testing.T) {
	p := mustPlan(t, frontendState)
	tests := []struct {
		projects []string
		prefix   string
		want     []string
	}{
		{nil, "", []string{"a.off", "b.on", "c.novariant", "d.web"}},
		{[]string{"*"}, "", []string{"a.off", "b.on", "c.novariant", "d.web"}},
		{[]string{"default"}, "", []string{"a.off", "c.novariant"}},
		{[]string{"web", "*"}, "b.", []string{"b.on"}},
		{[]string{"web"}, "d", []string{"d.web"}},
		{[]string{"nope"}, "", nil},
	}
	for _, tt := range tests {
		sc := p.Scope(tt.projects, tt.prefix)
		if sc != p.Scope(tt.projects, tt.prefix) {
			t.Errorf("Scope(%v, %q) is not cached", tt.projects, tt.prefix)
		}
		var got []string
		for i := range p.flags {
			if sc.Contains(p.flags[i].name) {
				got = append(got, p.flags[i].name)
			}
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") || sc.Len() != len(tt.want) {
			t.Errorf("Scope(%v, %q) = %v (Len %d), want %v", tt.projects, tt.prefix, got, sc.Len(), tt.want)
		}
	}
	if p.Scope(nil, "").Contains("missing") {
		t.Errorf("Contains(missing) = true")
	}
}

func TestAppendClientFeatures(t *testing.T) {
	state := `{"version":2,"features":[{"name":"f","type":"release","description":null,"createdAt":"2023-01-28T16:21:39.975+01:00",` +
		`"enabled":true,"stale":false,"impressionData":false,"project":"default",` +
		`"strategies":[{"name":"flexibleRollout","constraints":[{"contextName":"x","operator":"IN","values":["1"]}],` +
		`"parameters":{"stickiness":"default","rollout":"50","groupId":"f"},"segments":[1],"sortOrder":0}],` +
		`"variants":[],"dependencies":[{"feature":"p","enabled":false}]}],` +
		`"segments":[{"id":1,"name":"s","constraints":[{"contextName":"y","operator":"NUM_GT","value":"3","inverted":true}]}]}`
	p := mustPlan(t, state)
	q := &Query{Projects: []string{"*"}, Environment: "production"}
	got := string(p.AppendClientFeatures(nil, nil, q))
	want := `{"version":2,"features":[{"name":"f","type":"release","createdAt":"2023-01-28T15:21:39.975Z","enabled":true,"stale":false,` +
		`"impressionData":false,"project":"default","strategies":[{"name":"flexibleRollout","sortOrder":0,"segments":[1],` +
		`"constraints":[{"contextName":"x","operator":"IN","caseInsensitive":false,"inverted":false,"values":["1"]}],` +
		`"parameters":{"groupId":"f","rollout":"50","stickiness":"default"},"variants":[]}],"variants":[],` +
		`"dependencies":[{"feature":"p","enabled":false}]}],` +
		`"segments":[{"id":1,"constraints":[{"contextName":"y","operator":"NUM_GT","caseInsensitive":false,"inverted":true,"value":"3"}]}],` +
		`"query":{"projects":["*"],"environment":"production","inlineSegmentConstraints":false}}`
	if got != want {
		t.Errorf("AppendClientFeatures\n got %s\nwant %s", got, want)
	}
	// What we emit decodes back to the same model.
	back, err := DecodeClientFeatures([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if back.Features[0].Strategies[0].Parameters["rollout"] != "50" || back.Segments[0].ID != 1 {
		t.Errorf("round trip lost data: %+v", back)
	}
	if got := string(p.AppendClientFeatures(nil, p.Scope([]string{"other"}, ""), nil)); !strings.HasPrefix(got, `{"version":2,"features":[],"segments":[`) ||
		!strings.HasSuffix(got, `,"query":null}`) {
		t.Errorf("empty scope = %s", got)
	}
	b, ok := p.AppendClientFeature(nil, nil, "f")
	if !ok || !strings.HasPrefix(string(b), `{"name":"f","type":"release"`) {
		t.Errorf("AppendClientFeature(f) = %s, %v", b, ok)
	}
	if _, ok := p.AppendClientFeature(nil, p.Scope(nil, "x"), "f"); ok {
		t.Errorf("AppendClientFeature outside scope = true")
	}
}

func TestDecodeClientFeaturesErrors(t *testing.T) {
	_, err := DecodeClientFeatures([]byte(`{"version":2,"features":[{"name":1}]}`))
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Offset == 0 {
		t.Errorf("type error = %v, want *json.UnmarshalTypeError with offset", err)
	}
	_, err = DecodeClientFeatures([]byte("{\"version\":2,\n\"features\":[}"))
	var se *json.SyntaxError
	if !errors.As(err, &se) || se.Offset == 0 {
		t.Errorf("syntax error = %v, want *json.SyntaxError with offset", err)
	}
}

func TestCompileWarningsAndEdgeCases(t *testing.T) {
	p := mustPlan(t, `{"version":2,"features":[
	 {"name":"re","enabled":true,"strategies":[{"name":"default","constraints":[{"contextName":"a","operator":"REGEX","value":"(","inverted":true}]}]},
	 {"name":"op","enabled":true,"strategies":[{"name":"default","constraints":[{"contextName":"a","operator":"NOPE","inverted":true}]}]},
	 {"name":"custom","enabled":true,"strategies":[{"name":"myCustom"},{"name":"userWithId","parameters":{"userIds":"1, 2 ,3"}}]},
	 {"name":"seg","enabled":true,"strategies":[{"name":"default","segments":[42]}]},
	 {"name":"parent","enabled":true,"strategies":[],"dependencies":[{"feature":"grand"}]},
	 {"name":"grand","enabled":true,"strategies":[]},
	 {"name":"child","enabled":true,"strategies":[],"dependencies":[{"feature":"parent"}]},
	 {"name":"orphan","enabled":true,"strategies":[],"dependencies":[{"feature":"nobody"}]},
	 {"name":"dup","enabled":false},
	 {"name":"dup","enabled":true}
	]}`)
	if len(p.Warnings()) < 4 {
		t.Errorf("Warnings() = %q, want at least 4", p.Warnings())
	}
	var ctx Context
	ctx.Set("userId", "2")
	for name, want := range map[string]bool{
		"re": false, "op": false, "custom": true, "seg": false,
		"parent": true, "grand": true, "child": false, "orphan": false, "dup": true, "missing": false,
	} {
		if got := p.IsEnabled(name, &ctx); got != want {
			t.Errorf("IsEnabled(%q) = %v, want %v", name, got, want)
		}
	}
	if p.Len() != 9 {
		t.Errorf("Len() = %d, want 9 (duplicates collapse)", p.Len())
	}
	if v := p.GetVariant("grand", nil); v.Name != "disabled" || v.Enabled || !v.FeatureEnabled {
		t.Errorf("GetVariant(grand) = %+v", v)
	}
	if Compile(nil).Len() != 0 || p.Source() == nil {
		t.Errorf("Compile(nil) / Source")
	}
}

func TestPlanConcurrentUse(t *testing.T) {
	p := Compile(GenerateDataset(200, 5))
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			ctx := DatasetContext()
			var buf []byte
			for i := range 200 {
				sc := p.Scope([]string{"default", []string{"search", "mobile"}[(g+i)%2]}, "")
				buf = p.AppendFrontend(buf[:0], sc, ctx, i%2 == 0)
				if !json.Valid(buf) {
					t.Error("invalid JSON")
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
