package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestEdgeLoopValidationDoesNotStall runs `brink edge --server loop` with one
// loop against an upstream that holds the validation of one token: while
// brink waits for that answer, the loop's other connections are served
// (the request is offloaded to a goroutine of its own); once upstream
// answers, the waiting request gets its 200 and its connection closes.
func TestEdgeLoopValidationDoesNotStall(t *testing.T) {
	const (
		known = "*:development.loop-known"
		slow  = "*:development.loop-slow"
	)
	release := make(chan struct{})
	asked := make(chan struct{})
	var askedOnce sync.Once
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/edge/validate":
			var body struct {
				Tokens []string `json:"tokens"`
			}
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if slices.Contains(body.Tokens, slow) {
				askedOnce.Do(func() { close(asked) })
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
			type entry struct {
				Token       string   `json:"token"`
				Type        string   `json:"type"`
				Environment string   `json:"environment"`
				Projects    []string `json:"projects"`
			}
			out := struct {
				Tokens []entry `json:"tokens"`
			}{Tokens: []entry{}}
			for _, tok := range body.Tokens {
				out.Tokens = append(out.Tokens, entry{tok, "client", "development", []string{"*"}})
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		case "/api/client/features":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("ETag", `"loop-offload-1"`)
			_, _ = io.WriteString(w, `{"version":2,"features":[]}`)
		default:
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})

	e := startEdge(t, "loop-offload", up.URL, "-t", known, "--server", "loop", "--loops", "1")

	slowDone := make(chan int, 1)
	slowClose := make(chan bool, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/api/client/features", nil)
		req.Header.Set("Authorization", slow)
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			slowDone <- -1
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		slowClose <- resp.Close
		slowDone <- resp.StatusCode
	}()
	select {
	case <-asked:
	case <-time.After(10 * time.Second):
		t.Fatal("brink never asked the upstream about the new token")
	}

	// The one loop answers another connection while the validation waits.
	fast := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	for i := range 3 {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/api/client/features", nil)
		req.Header.Set("Authorization", known)
		resp, err := fast.Do(req)
		if err != nil {
			t.Fatalf("request %d with a known token while a validation waits: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d with a known token while a validation waits: status %d", i, resp.StatusCode)
		}
		select {
		case st := <-slowDone:
			t.Fatalf("the validation's request finished (status %d) before the upstream answered: it timed out, so the known-token requests waited behind it", st)
		default:
		}
	}

	close(release)
	select {
	case st := <-slowDone:
		if st != http.StatusOK {
			t.Fatalf("the new token after upstream validated it: status %d, want 200", st)
		}
		if !<-slowClose {
			t.Error("the offloaded answer did not close its connection")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the new token's request never finished")
	}
}
