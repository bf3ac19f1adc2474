package flags

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// sameDecode fails unless DecodeClientFeaturesFrom(prev, data) gives what
// DecodeClientFeatures(data) gives.
func sameDecode(t *testing.T, prev *ClientFeatures, data []byte) *ClientFeatures {
	t.Helper()
	got, gerr := DecodeClientFeaturesFrom(prev, data)
	want, werr := DecodeClientFeatures(data)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("errors differ for %q: %v, want %v", data, gerr, werr)
	}
	if gerr != nil {
		return nil
	}
	cmp := *got
	cmp.raw = nil
	if !reflect.DeepEqual(&cmp, want) {
		t.Fatalf("decoded values differ for %q", data)
	}
	return got
}

func TestDecodeClientFeaturesFromMatches(t *testing.T) {
	n, steps := 2000, 10
	if testing.Short() {
		n, steps = 300, 5
	}
	r := rand.New(rand.NewPCG(3, 4))
	cf := GenerateDataset(n, 5)
	data, _ := json.Marshal(cf)
	prev := sameDecode(t, nil, data)
	for step := range steps {
		cf = mutateSync(r, cf, step)
		data, _ = json.Marshal(cf)
		got := sameDecode(t, prev, data)
		// Unchanged features are prev's, shared.
		shared := 0
		for i := range got.Features {
			if s := got.Features[i].Strategies; len(s) > 0 {
				for j := range prev.Features {
					if ps := prev.Features[j].Strategies; len(ps) > 0 && &ps[0] == &s[0] {
						shared++
						break
					}
				}
			}
		}
		if shared < len(got.Features)/2 {
			t.Fatalf("step %d: only %d of %d features reused", step, shared, len(got.Features))
		}
		// And CompileFrom over them still matches Compile.
		prev = got
	}
	for _, s := range decodeSeeds {
		sameDecode(t, prev, []byte(s))
		sameDecode(t, nil, []byte(s))
	}
}

var decodeSeeds = []string{
	`{"version":2,"features":[]}`,
	`{"version":2,"features":null}`,
	`{"version":2}`,
	` {"features":[{"name":"a","enabled":true}] , "version":1 } `,
	`{"features":[{"name":"a"}],"features":[{"name":"b"}]}`,
	`{"features":[{"name":"a"}],"Features":null}`,
	`{"FEATURES":[{"name":"a"}],"features":[{"name":"b"}]}`,
	`{"featureſ":[{"name":"a"}],"features":[{"name":"b"}]}`,
	`{"feat\u0075res":[{"name":"a"}]}`,
	`{"features":[{"name":"a"},]}`,
	`{"features":[{"name":"a"}]}x`,
	`{"features":[{"name":"a"} {"name":"b"}]}`,
	`{"features":[{"name":"a","enabled":"yes"}]}`,
	`{"features":[{"name":"a"}],"version":"2"}`,
	`{"features":[{"name":"a"}],"segments":[{"id":1,"constraints":[]}],"query":null,"meta":{"etag":"x"}}`,
	`{"features":[null,{"name":"a"}]}`,
	`{"features":[1]}`,
	`{"features":[{"name":"a\"]}"}]}`,
	`{"features":[{"name":"a"}]`,
	`[]`,
	``,
}

// FuzzDecodeClientFeaturesFrom checks that the incremental decoder,
// starting from any earlier payload, agrees with DecodeClientFeatures on
// every input: the same value or the same error.
func FuzzDecodeClientFeaturesFrom(f *testing.F) {
	base, _ := json.Marshal(GenerateDataset(20, 1))
	next := GenerateDataset(20, 1)
	next.Features[3].Enabled = !next.Features[3].Enabled
	changed, _ := json.Marshal(next)
	f.Add(base, changed)
	for _, s := range decodeSeeds {
		f.Add(base, []byte(s))
	}
	for _, sf := range readSpecFiles(f) {
		f.Add([]byte(sf.State), []byte(sf.State))
	}
	f.Fuzz(func(t *testing.T, prevData, data []byte) {
		prev, err := DecodeClientFeaturesFrom(nil, prevData)
		if err != nil {
			prev = nil
		}
		got := sameDecode(t, prev, data)
		if got != nil {
			// Decoding from itself reuses and agrees too.
			sameDecode(t, got, data)
		}
	})
}
