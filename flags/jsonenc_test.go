package flags

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendJSONString(t *testing.T) {
	tests := []string{
		"", "plain", `quote " and \ backslash`, "tab\tnl\ncr\r", "\b\f\x00\x01\x1f\x7f",
		"<script>&amp;</script>", "æøå ÆØÅ", "日本語", "😃💁", "emoji \U0001F600 end",
		"bad utf8 \xff\xfe end", "\xc3", "mixed \"\x05\u00e9\\",
	}
	for _, s := range tests {
		t.Run(s, func(t *testing.T) {
			got := appendJSONString(nil, s)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(s); err != nil {
				t.Fatal(err)
			}
			want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			if !bytes.Equal(got, want) {
				t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
			}
		})
	}
	// encoding/json escapes U+2028/U+2029; Edge (serde_json) does not. Both
	// decode to the same string.
	s := "line\u2028sep\u2029"
	got := appendJSONString(nil, s)
	if strings.Contains(string(got), `\u2028`) {
		t.Errorf("appendJSONString(%q) = %s, want U+2028 verbatim", s, got)
	}
	var back string
	if err := json.Unmarshal(got, &back); err != nil || back != s {
		t.Errorf("round trip of %q = %q, %v", s, back, err)
	}
}
