package flags

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestGenerateDatasetDeterministic(t *testing.T) {
	a, _ := json.Marshal(GenerateDataset(200, 7))
	b, _ := json.Marshal(GenerateDataset(200, 7))
	if !bytes.Equal(a, b) {
		t.Fatal("GenerateDataset is not deterministic")
	}
	p := Compile(GenerateDataset(200, 7))
	if p.Len() != 200 || len(p.Warnings()) != 0 {
		t.Fatalf("Len() = %d, warnings %q", p.Len(), p.Warnings())
	}
}

// TestClientFeaturesRoundTrip checks that the /api/client/features body we
// serialise decodes and compiles to a plan that answers exactly like the
// original.
func TestClientFeaturesRoundTrip(t *testing.T) {
	p := Compile(GenerateDataset(300, 3))
	body := p.AppendClientFeatures(nil, nil, nil)
	cf, err := DecodeClientFeatures(body)
	if err != nil {
		t.Fatal(err)
	}
	p2 := Compile(cf)
	ctx := DatasetContext()
	a := p.AppendFrontend(nil, nil, ctx, true)
	b := p2.AppendFrontend(nil, nil, ctx, true)
	if !bytes.Equal(a, b) {
		t.Fatalf("frontend answers differ after a client-features round trip")
	}
	if body2 := p2.AppendClientFeatures(nil, nil, nil); !bytes.Equal(body, body2) {
		t.Fatalf("client features body is not stable across a round trip")
	}
}
