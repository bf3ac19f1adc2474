package flags

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

type specFile struct {
	Name         string          `json:"name"`
	State        json.RawMessage `json:"state"`
	Tests        []specTest      `json:"tests"`
	VariantTests []specTest      `json:"variantTests"`
}

type specTest struct {
	Description    string          `json:"description"`
	Context        specContext     `json:"context"`
	ToggleName     string          `json:"toggleName"`
	ExpectedResult json.RawMessage `json:"expectedResult"`
}

type specContext struct {
	UserID        *string            `json:"userId"`
	SessionID     *string            `json:"sessionId"`
	RemoteAddress *string            `json:"remoteAddress"`
	Environment   *string            `json:"environment"`
	AppName       *string            `json:"appName"`
	CurrentTime   *string            `json:"currentTime"`
	Properties    map[string]*string `json:"properties"`
}

type specVariant struct {
	Name           string   `json:"name"`
	Enabled        bool     `json:"enabled"`
	FeatureEnabled bool     `json:"feature_enabled"`
	Payload        *Payload `json:"payload"`
}

// toContext fills a Context the way Edge deserialises one: null values,
// and empty strings, are absent.
func (sc *specContext) toContext() *Context {
	var c Context
	set := func(k string, v *string) {
		if v != nil && *v != "" {
			c.Set(k, *v)
		}
	}
	set("userId", sc.UserID)
	set("sessionId", sc.SessionID)
	set("remoteAddress", sc.RemoteAddress)
	set("environment", sc.Environment)
	set("appName", sc.AppName)
	set("currentTime", sc.CurrentTime)
	for k, v := range sc.Properties {
		if v != nil && *v != "" {
			c.SetProperty(k, *v)
		}
	}
	return &c
}

// loadSpecState decodes a spec state: a client features payload, or a
// delta payload ({"events":[...]}) applied to an empty state.
func loadSpecState(t testing.TB, state []byte) *ClientFeatures {
	t.Helper()
	var probe struct {
		Events json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(state, &probe); err != nil {
		t.Fatalf("probing state: %v", err)
	}
	if probe.Events != nil {
		d, err := DecodeClientFeaturesDelta(state)
		if err != nil {
			t.Fatalf("DecodeClientFeaturesDelta: %v", err)
		}
		cf := &ClientFeatures{Version: 2}
		cf.ApplyDelta(d.Events)
		return cf
	}
	cf, err := DecodeClientFeatures(state)
	if err != nil {
		t.Fatalf("DecodeClientFeatures: %v", err)
	}
	return cf
}

func readSpecFiles(t testing.TB) []specFile {
	t.Helper()
	dir := filepath.Join("testdata", "spec")
	idx, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := json.Unmarshal(idx, &names); err != nil {
		t.Fatal(err)
	}
	var files []specFile
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		var sf specFile
		if err := json.Unmarshal(data, &sf); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		sf.Name = n
		files = append(files, sf)
	}
	return files
}

func TestClientSpecification(t *testing.T) {
	var nTests, nVariants int
	for _, sf := range readSpecFiles(t) {
		nTests += len(sf.Tests)
		nVariants += len(sf.VariantTests)
		t.Run(sf.Name, func(t *testing.T) {
			plan := Compile(loadSpecState(t, sf.State))
			for _, tc := range sf.Tests {
				t.Run(tc.Description, func(t *testing.T) {
					var want bool
					if err := json.Unmarshal(tc.ExpectedResult, &want); err != nil {
						t.Fatal(err)
					}
					if got := plan.IsEnabled(tc.ToggleName, tc.Context.toContext()); got != want {
						t.Errorf("IsEnabled(%q, %+v) = %v, want %v", tc.ToggleName, tc.Context, got, want)
					}
				})
			}
			for _, tc := range sf.VariantTests {
				t.Run(tc.Description, func(t *testing.T) {
					var want specVariant
					if err := json.Unmarshal(tc.ExpectedResult, &want); err != nil {
						t.Fatal(err)
					}
					got := plan.GetVariant(tc.ToggleName, tc.Context.toContext())
					gotV := specVariant(got)
					if !reflect.DeepEqual(gotV, want) {
						t.Errorf("GetVariant(%q) = %+v (payload %+v), want %+v (payload %+v)", tc.ToggleName, gotV, gotV.Payload, want, want.Payload)
					}
				})
			}
		})
	}
	if nTests != 227 || nVariants != 52 {
		t.Errorf("ran %d tests and %d variantTests, want 227 and 52", nTests, nVariants)
	}
}
