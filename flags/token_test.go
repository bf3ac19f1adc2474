package flags

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestParseToken(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		env      string
		projects []string
		err      error
	}{
		{"wildcard", "*:development.abc123", "development", []string{"*"}, nil},
		{"project", "default:production.secret", "production", []string{"default"}, nil},
		{"multi project", "[]:development.secret", "development", []string{}, nil},
		{"trimmed", "  p:e.s \t", "e", []string{"p"}, nil},
		{"dot in secret", "p:e.s.t", "e", []string{"p"}, nil},
		{"empty secret", "p:e.", "e", []string{"p"}, nil},
		{"colon in secret", "p:e.s:t", "e", []string{"p"}, nil},
		{"v2", "p:e.v2_sel_secret", "e", []string{"p"}, nil},
		{"no colon", "secret", "", nil, ErrTokenFormat},
		{"no dot", "p:e", "", nil, ErrTokenFormat},
		{"dot only after second colon", "p:e:x.y", "", nil, ErrTokenFormat},
		{"empty project", ":e.s", "", nil, ErrTokenFormat},
		{"empty env", "p:.s", "", nil, ErrTokenFormat},
		{"empty", "", "", nil, ErrTokenFormat},
		{"legacy at", "secret@development", "", nil, ErrTokenFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := ParseToken(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseToken(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if err != nil {
				return
			}
			if tok.Environment != tt.env || !reflect.DeepEqual(tok.Projects, tt.projects) {
				t.Errorf("ParseToken(%q) = env %q projects %q, want %q %q", tt.in, tok.Environment, tok.Projects, tt.env, tt.projects)
			}
			if tok.Raw != strings.TrimSpace(tt.in) || tok.Type != TokenUntyped || tok.Status != TokenUnknown {
				t.Errorf("ParseToken(%q) = %+v", tt.in, tok)
			}
		})
	}
}

func TestParseTokenType(t *testing.T) {
	tests := []struct {
		in   string
		want TokenType
		err  bool
	}{
		{"client", TokenClient, false},
		{"CLIENT", TokenClient, false},
		{"backend", TokenClient, false},
		{"BACKEND", TokenClient, false},
		{"Frontend", TokenFrontend, false},
		{"FRONTEND", TokenFrontend, false},
		{"admin", TokenAdmin, false},
		{"ADMIN", TokenAdmin, false},
		{"proxy", TokenUntyped, true},
		{"", TokenUntyped, true},
	}
	for _, tt := range tests {
		got, err := ParseTokenType(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ParseTokenType(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestTokenSubsumes(t *testing.T) {
	mk := func(typ TokenType, env string, projects ...string) Token {
		return Token{Type: typ, Environment: env, Projects: projects}
	}
	tests := []struct {
		name string
		a, b Token
		want bool
	}{
		{"wildcard covers project", mk(TokenClient, "dev", "*"), mk(TokenClient, "dev", "a"), true},
		{"wildcard covers wildcard", mk(TokenClient, "dev", "*"), mk(TokenClient, "dev", "*"), true},
		{"same project", mk(TokenClient, "dev", "a"), mk(TokenClient, "dev", "a"), true},
		{"superset", mk(TokenClient, "dev", "a", "b"), mk(TokenClient, "dev", "b"), true},
		{"subset", mk(TokenClient, "dev", "a"), mk(TokenClient, "dev", "a", "b"), false},
		{"project does not cover wildcard", mk(TokenClient, "dev", "a"), mk(TokenClient, "dev", "*"), false},
		{"other env", mk(TokenClient, "dev", "*"), mk(TokenClient, "prod", "a"), false},
		{"other type", mk(TokenClient, "dev", "*"), mk(TokenFrontend, "dev", "a"), false},
		{"disjoint", mk(TokenClient, "dev", "a"), mk(TokenClient, "dev", "b"), false},
		{"empty covers empty", mk(TokenClient, "dev"), mk(TokenClient, "dev"), true},
	}
	for _, tt := range tests {
		if got := tt.a.Subsumes(tt.b); got != tt.want {
			t.Errorf("%s: %v.Subsumes(%v) = %v, want %v", tt.name, tt.a.Projects, tt.b.Projects, got, tt.want)
		}
	}
}

func TestTokenAnonymised(t *testing.T) {
	tests := []struct{ in, want string }{
		{"*:development.abcdefghijklmnopqrstuvwxyz123456", "*:development.abcdef****123456"},
		{"p:e.v2_selector_secretpart", "p:e.v2_selector"},
		{"p:e.short", "p:e.****"},
		{"offline-token-with-a-long-secret", "offlin****secret"},
		{"tiny", "****"},
	}
	for _, tt := range tests {
		if got := (Token{Raw: tt.in}).Anonymised(); got != tt.want {
			t.Errorf("Anonymised(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTokenJSON(t *testing.T) {
	tok := Token{Raw: "*:dev.x", Type: TokenClient, Environment: "dev", Projects: []string{"*"}, Status: TokenValidated}
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"token":"*:dev.x","type":"client","environment":"dev","projects":["*"],"status":"Validated"}`
	if string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var back Token
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, tok) {
		t.Errorf("Unmarshal = %+v, %v; want %+v", back, err, tok)
	}
	b, _ = json.Marshal(Token{Raw: "offline"})
	if string(b) != `{"token":"offline","type":null,"environment":null,"projects":[],"status":"Unknown"}` {
		t.Errorf("Marshal(untyped) = %s", b)
	}
	// Unleash's /edge/validate answer: "backend" type, no status.
	var up Token
	if err := json.Unmarshal([]byte(`{"token":"a:b.c","type":"BACKEND","environment":"b","projects":["a"]}`), &up); err != nil {
		t.Fatal(err)
	}
	if up.Type != TokenClient || up.Status != TokenValidated || up.Environment != "b" {
		t.Errorf("Unmarshal(upstream) = %+v", up)
	}
}

func TestOfflineTokens(t *testing.T) {
	c := OfflineTokens(
		[]string{"*:development.client", "plain-secret", " ", "both"},
		[]string{"default:production.fe", "both", "fe-plain"},
	)
	tests := []struct {
		raw      string
		ok       bool
		typ      TokenType
		env      string
		projects []string
	}{
		{"*:development.client", true, TokenClient, "development", []string{"*"}},
		{"plain-secret", true, TokenClient, "", []string{"*"}},
		{"default:production.fe", true, TokenFrontend, "production", []string{"default"}},
		{"fe-plain", true, TokenFrontend, "", []string{"*"}},
		{"both", true, TokenUntyped, "", []string{"*"}},
		{"plain", false, 0, "", nil},
		{"plain-secret ", false, 0, "", nil},
		{"", false, 0, "", nil},
	}
	for _, tt := range tests {
		tok, ok := c.Get(tt.raw)
		if ok != tt.ok {
			t.Errorf("Get(%q) ok = %v, want %v", tt.raw, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if tok.Type != tt.typ || tok.Environment != tt.env || !reflect.DeepEqual(tok.Projects, tt.projects) || tok.Status != TokenTrusted {
			t.Errorf("Get(%q) = %+v", tt.raw, tok)
		}
	}
	if c.Len() != 5 || len(c.All()) != 5 {
		t.Errorf("Len = %d, All = %d, want 5", c.Len(), len(c.All()))
	}
}

func TestTokenCacheConcurrent(t *testing.T) {
	var c TokenCache
	if _, ok := c.Get("x"); ok || c.Len() != 0 || c.All() != nil {
		t.Fatal("zero TokenCache is not empty")
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				raw := string(rune('a'+w)) + ":e." + string(rune('a'+i%26))
				c.Add(Token{Raw: raw, Status: TokenValidated})
				c.Get(raw)
				if i%7 == 0 {
					c.Remove(raw)
				}
			}
		}()
	}
	wg.Wait()
	all := c.All()
	for i := 1; i < len(all); i++ {
		if all[i-1].Raw >= all[i].Raw {
			t.Fatalf("All not sorted: %q before %q", all[i-1].Raw, all[i].Raw)
		}
	}
}

func TestTokenCacheGetAllocs(t *testing.T) {
	c := OfflineTokens([]string{"*:development.secret"}, nil)
	key := []byte("*:development.secret")
	n := testing.AllocsPerRun(100, func() {
		if _, ok := c.Get(string(key)); !ok {
			t.Fatal("missing token")
		}
	})
	if n != 0 {
		t.Errorf("Get allocates %v times, want 0", n)
	}
}

func FuzzParseToken(f *testing.F) {
	for _, s := range []string{"*:development.abc", "[]:e.s", "p:e", "a:b:c.d", ":", ".", "p:.x", " p:e.s ", "\x00:\xff.\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			return
		}
		if tok.Environment == "" || strings.ContainsAny(tok.Environment, ":.") {
			t.Fatalf("ParseToken(%q) environment %q", s, tok.Environment)
		}
		if !strings.Contains(tok.Raw, tok.Environment) {
			t.Fatalf("ParseToken(%q) raw %q lacks environment", s, tok.Raw)
		}
		_ = tok.Anonymised()
		if !tok.Subsumes(tok) {
			t.Fatalf("ParseToken(%q) does not subsume itself", s)
		}
	})
}
