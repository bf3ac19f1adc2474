package upstream

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzSSEParser feeds arbitrary lines to the event-stream parser: it must
// not panic, every event it emits has a type, and a data field that
// contains no newline comes back as it went in.
func FuzzSSEParser(f *testing.F) {
	f.Add("event: unleash-connected\nid: 1\ndata: {\"events\":[]}\n\n")
	f.Add(": keep-alive\n\ndata: a\ndata: b\n\n")
	f.Add("id\x00: 3\ndata\n\nevent\n\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		var p sseParser
		for _, l := range strings.Split(in, "\n") {
			p.line([]byte(l), func(event, id string, data []byte) {
				if event == "" {
					t.Fatalf("event without a type from %q", in)
				}
			})
		}
		var got []byte
		var q sseParser
		payload := strings.NewReplacer("\n", "", "\r", "").Replace(in)
		q.line([]byte("data: "+payload), func(string, string, []byte) {})
		q.line(nil, func(_, _ string, d []byte) { got = bytes.Clone(d) })
		if string(got) != payload {
			t.Fatalf("data %q came back as %q", payload, got)
		}
	})
}

func TestSSEParser(t *testing.T) {
	in := ": comment\r\nevent: unleash-connected\r\nid: 7\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n" +
		"data: plain\n\n" +
		"event: empty\n\n" +
		"id\ndata:x\n\n"
	type ev struct{ event, id, data string }
	var got []ev
	var p sseParser
	for _, l := range strings.SplitAfter(in, "\n") {
		p.line([]byte(strings.TrimSuffix(l, "\n")), func(e, id string, d []byte) { got = append(got, ev{e, id, string(d)}) })
	}
	want := []ev{{"unleash-connected", "7", "{\"a\":\n1}"}, {"message", "7", "plain"}, {"message", "", "x"}}
	if len(got) != len(want) {
		t.Fatalf("events = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %q, want %q", i, got[i], want[i])
		}
	}
}
