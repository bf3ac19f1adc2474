package persist

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/brink-edge/brink/flags"
	"github.com/brink-edge/brink/internal/testenv"
)

// startRedis starts a private single-node Redis for a test (skipped when
// redis-server is not installed, failed under BRINK_REQUIRE_E2E=1).
func startRedis(t testing.TB) *testenv.Redis { return testenv.StartRedis(t) }

func newRedis(t testing.TB, addr string) *Redis {
	t.Helper()
	r, err := NewRedis(RedisConfig{URLs: []string{"redis://" + addr}, ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func rawClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func timeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRedisRoundTrip(t *testing.T) {
	srv := startRedis(t)
	ctx := timeout(t)
	r := newRedis(t, srv.Addr)

	st, err := r.Load(ctx)
	if st != nil || err != nil {
		t.Fatalf("Load of an empty Redis = %v, %v; want nil, nil", st, err)
	}
	want := sampleState(t, 300)
	if err := r.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := newRedis(t, srv.Addr).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, want)

	if err := r.Save(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got, err = r.Load(ctx)
	if err != nil || got == nil || len(got.Tokens)+len(got.Features)+len(got.LastEventIDs) != 0 {
		t.Fatalf("after saving an empty state: %+v, %v", got, err)
	}
}

// TestRedisKeys reads what Save wrote with a plain client: exactly Unleash
// Edge's three keys, plain strings without expiry, in Edge's JSON shapes.
func TestRedisKeys(t *testing.T) {
	srv := startRedis(t)
	ctx := timeout(t)
	if err := newRedis(t, srv.Addr).Save(ctx, goldenState(t)); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t, srv.Addr)
	keys, err := raw.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if want := []string{"unleash-features", "unleash-last-event-ids", "unleash-tokens"}; !slices.Equal(keys, want) {
		t.Fatalf("keys = %q, want %q", keys, want)
	}
	checks := map[string]func([]byte) error{
		TokensKey:       checkEdgeTokens,
		FeaturesKey:     checkEdgeFeatures,
		LastEventIDsKey: checkEdgeLastEventIDs,
	}
	golden := map[string]string{TokensKey: TokensFile, FeaturesKey: FeaturesFile, LastEventIDsKey: LastEventIDsFile}
	for key, check := range checks {
		if typ := raw.Type(ctx, key).Val(); typ != "string" {
			t.Errorf("%s has type %q, want string", key, typ)
		}
		if ttl := raw.TTL(ctx, key).Val(); ttl != -1 {
			t.Errorf("%s has TTL %v, want none", key, ttl)
		}
		b, err := raw.Get(ctx, key).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if err := check(b); err != nil {
			t.Errorf("%s: %v", key, err)
		}
		// The same bytes as the backup files.
		want, err := os.ReadFile(filepath.Join("testdata", "golden", golden[key]))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", key, b, want)
		}
	}
	var pairs [][2]json.RawMessage
	if err := json.Unmarshal([]byte(raw.Get(ctx, FeaturesKey).Val()), &pairs); err != nil || len(pairs) != 2 || string(pairs[0][0]) != `"development"` {
		t.Errorf("features value is not [[env, features], ...]: %v", err)
	}
}

// TestRedisLoadEdgeValues loads keys as Unleash Edge writes them.
func TestRedisLoadEdgeValues(t *testing.T) {
	srv := startRedis(t)
	ctx := timeout(t)
	raw := rawClient(t, srv.Addr)
	for key, name := range map[string]string{TokensKey: TokensFile, FeaturesKey: FeaturesFile, LastEventIDsKey: LastEventIDsFile} {
		b, err := os.ReadFile(filepath.Join("testdata", "edge-backup", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := raw.Set(ctx, key, b, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := newRedis(t, srv.Addr).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkEdgeSample(t, st)
}

func TestRedisCorruptValueNamesTheKey(t *testing.T) {
	srv := startRedis(t)
	ctx := timeout(t)
	r := newRedis(t, srv.Addr)
	if err := r.Save(ctx, sampleState(t, 3)); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t, srv.Addr)
	for _, key := range []string{TokensKey, FeaturesKey, LastEventIDsKey} {
		good := raw.Get(ctx, key).Val()
		if err := raw.Set(ctx, key, `{"broken`, 0).Err(); err != nil {
			t.Fatal(err)
		}
		st, err := r.Load(ctx)
		if err == nil || st != nil {
			t.Fatalf("Load with a corrupt %s = %v, %v", key, st, err)
		}
		if !strings.Contains(err.Error(), "key "+key) || !strings.Contains(err.Error(), srv.Addr) {
			t.Errorf("error %q should name the key %s and the server", err, key)
		}
		if err := raw.Set(ctx, key, good, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A key of another type is no panic: MGET reads it as absent.
	raw.Del(ctx, TokensKey)
	raw.RPush(ctx, TokensKey, "x")
	if st, err := r.Load(ctx); err != nil || len(st.Tokens) != 0 || len(st.Features) != 2 {
		t.Errorf("Load with a list key = %+v, %v", st, err)
	}
}

// TestRedisShared: two instances on one Redis see each other's saves; the
// last writer wins.
func TestRedisShared(t *testing.T) {
	srv := startRedis(t)
	ctx := timeout(t)
	a, b := newRedis(t, srv.Addr), newRedis(t, srv.Addr)
	s1, s2 := sampleState(t, 10), sampleState(t, 25)
	s2.LastEventIDs = map[string]uint32{"development": 99}

	if err := a.Save(ctx, s1); err != nil {
		t.Fatal(err)
	}
	got, err := b.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, s1)

	if err := b.Save(ctx, s2); err != nil {
		t.Fatal(err)
	}
	got, err = a.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, s2)

	// Concurrent saves from both: the result is one of the two states,
	// whole (single mode sets the three keys in one transaction).
	errs := make(chan error, 2)
	for i, p := range []*Redis{a, b} {
		st := []*flags.PersistedState{s1, s2}[i]
		go func() {
			for range 5 {
				if err := p.Save(ctx, st); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err = a.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := len(got.Features["development"].Features)
	ids := got.LastEventIDs["development"]
	if !(n == 10 && ids == 42) && !(n == 25 && ids == 99) {
		t.Errorf("mixed state after concurrent saves: %d flags with event id %d", n, ids)
	}
}

// TestRedisDownAtStart: NewRedis succeeds while Redis is down, Load and
// Save fail without panicking, and both work once Redis is up.
func TestRedisDownAtStart(t *testing.T) {
	srv := startRedis(t)
	srv.Stop(t)
	ctx := timeout(t)

	r, err := NewRedis(RedisConfig{URLs: []string{"redis://" + srv.Addr}, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("NewRedis with Redis down: %v", err)
	}
	defer r.Close()
	start := time.Now()
	if st, err := r.Load(ctx); err == nil || st != nil {
		t.Fatalf("Load with Redis down = %v, %v", st, err)
	} else if !strings.Contains(err.Error(), srv.Addr) {
		t.Errorf("Load error %q does not name the server", err)
	}
	if err := r.Save(ctx, sampleState(t, 3)); err == nil {
		t.Fatal("Save with Redis down succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("failing Load and Save took %v", d)
	}

	srv.Start(t)
	want := sampleState(t, 3)
	var saveErr error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if saveErr = r.Save(ctx, want); saveErr == nil {
			break
		}
	}
	if saveErr != nil {
		t.Fatalf("Save after Redis came up: %v", saveErr)
	}
	got, err := r.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, want)

	// And again after Redis goes away in the middle of the run.
	srv.Stop(t)
	if _, err := r.Load(ctx); err == nil {
		t.Error("Load after Redis stopped succeeded")
	}
}

// TestRedisCluster runs the store in cluster mode against a one-node Redis
// cluster that owns every slot.
func TestRedisCluster(t *testing.T) {
	srv := startRedisServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	ctx := timeout(t)
	raw := rawClient(t, srv.Addr)
	if err := raw.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		info, _ := raw.ClusterInfo(ctx).Result()
		if strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ok: %s", info)
		}
	}
	r, err := NewRedis(RedisConfig{URLs: []string{"redis://" + srv.Addr}, Mode: "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.cluster {
		t.Fatal("cluster mode not selected")
	}
	if st, err := r.Load(ctx); st != nil || err != nil {
		t.Fatalf("Load of an empty cluster = %v, %v", st, err)
	}
	want := sampleState(t, 50)
	if err := r.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := r.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, want)
	if ttl := raw.TTL(ctx, FeaturesKey).Val(); ttl != -1 {
		t.Errorf("TTL = %v", ttl)
	}
}

func TestRedisCanceledContext(t *testing.T) {
	srv := startRedis(t)
	r := newRedis(t, srv.Addr)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Save(ctx, sampleState(t, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Save = %v", err)
	}
	if _, err := r.Load(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Load = %v", err)
	}
}

// writeSelfSignedCert writes a self-signed certificate for localhost and
// 127.0.0.1 and its key to dir.
func writeSelfSignedCert(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestRedisTLS: rediss:// and --redis-secure speak TLS and verify the
// server's certificate unless the URL says #insecure.
func TestRedisTLS(t *testing.T) {
	redisServerBin(t)
	certFile, keyFile := writeSelfSignedCert(t, t.TempDir())
	srv := startRedisServerTLS(t, &tls.Config{InsecureSkipVerify: true},
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", certFile, "--tls-auth-clients", "no")
	ctx := timeout(t)
	_, port, _ := net.SplitHostPort(srv.Addr)
	portN, _ := strconv.Atoi(port)
	fast := 500 * time.Millisecond

	open := func(cfg RedisConfig) *Redis {
		t.Helper()
		cfg.ReadTimeout, cfg.WriteTimeout = fast, fast
		r, err := NewRedis(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	// An untrusted certificate is refused.
	if err := open(RedisConfig{URLs: []string{"rediss://localhost:" + port}}).Save(ctx, nil); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Errorf("rediss with an untrusted certificate: %v", err)
	}
	// Plain text to a TLS port fails.
	if err := open(RedisConfig{URLs: []string{"redis://localhost:" + port}}).Save(ctx, nil); err == nil {
		t.Error("plain redis:// to a TLS port succeeded")
	}
	want := sampleState(t, 5)
	for _, cfg := range []RedisConfig{
		{URLs: []string{"rediss://localhost:" + port + "/#insecure"}},
		{URLs: []string{"redis://localhost:" + port + "/#insecure"}, Secure: true},
		{URLs: []string{"redis://localhost:1/#insecure"}, Port: portN, Secure: true},
	} {
		r := open(cfg)
		if err := r.Save(ctx, want); err != nil {
			t.Fatalf("%+v: Save: %v", cfg, err)
		}
		got, err := r.Load(ctx)
		if err != nil {
			t.Fatalf("%+v: Load: %v", cfg, err)
		}
		sameState(t, got, want)
	}
}
