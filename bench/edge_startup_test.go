package bench

// Startup to ready from a backup folder while the upstream is down.
//
// BenchmarkEdgeStartFromBackup writes a backup folder with flags/persist
// (a validated client token per environment, the flags of each) and times
// upstream.New(...).Start(ctx) against an unreachable upstream
// (http://127.0.0.1:1, connection refused) until Ready() is true: loading
// and decoding the backup, the failed validation, compiling and publishing
// every environment. Shutting the Edge down is not timed (it does not
// overwrite the backup: it never synced).
//
// BenchmarkEdgeBinaryStartFromBackup builds cmd/brink (go build, once, not
// timed), then times the process end to end: from exec of
// `brink edge -u http://127.0.0.1:1 -b <dir> -t <token> --port <free>
// --interface 127.0.0.1` until GET /internal-backstage/ready answers 200
// (polled every 2 ms). Each run is bounded by 60 s and ends with SIGTERM to
// the process it started (SIGKILL after 10 s).
//
// BRINK_BENCH_FULL=1: 5,000 flags, 1 and 5 environments; otherwise 200
// flags and 1 environment.

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
	"github.com/brink-edge/brink/flags/persist"
	"github.com/brink-edge/brink/flags/upstream"
)

// edgeDownUpstream refuses connections (port 1 on loopback).
const edgeDownUpstream = "http://127.0.0.1:1"

// edgeStartSizes returns the (flags, environments) of the startup figures.
func edgeStartSizes() [][2]int {
	if edgeFull() {
		return [][2]int{{5000, 1}, {5000, 5}}
	}
	return [][2]int{{200, 1}}
}

// edgeWriteBackup saves a backup of n flags in each of envs environments
// (edgeMemEnvs) to a new folder and returns it with the startup token.
func edgeWriteBackup(tb testing.TB, n, envs int) (dir, token string) {
	tb.Helper()
	dir = tb.TempDir()
	f, err := persist.NewFile(dir)
	if err != nil {
		tb.Fatal(err)
	}
	st := &flags.PersistedState{Features: map[string]*flags.ClientFeatures{}, LastEventIDs: map[string]uint32{}}
	for i, env := range edgeMemEnvs[:envs] {
		st.Tokens = append(st.Tokens,
			flags.Token{Raw: "*:" + env + ".client0123456789abcdef", Type: flags.TokenClient, Environment: env, Projects: []string{"*"}, Status: flags.TokenValidated},
			flags.Token{Raw: "*:" + env + ".front0123456789abcdef", Type: flags.TokenFrontend, Environment: env, Projects: []string{"*"}, Status: flags.TokenValidated})
		st.Features[env] = edgeVariant(n, int64(i+1), 0)
	}
	if err := f.Save(context.Background(), st); err != nil {
		tb.Fatal(err)
	}
	return dir, st.Tokens[0].Raw
}

func BenchmarkEdgeStartFromBackup(b *testing.B) {
	for _, sz := range edgeStartSizes() {
		n, envs := sz[0], sz[1]
		b.Run("flags="+strconv.Itoa(n)+"/envs="+strconv.Itoa(envs), func(b *testing.B) {
			dir, token := edgeWriteBackup(b, n, envs)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				p, err := persist.NewFile(dir)
				if err != nil {
					b.Fatal(err)
				}
				store := new(flags.Store)
				e, err := upstream.New(upstream.Config{
					ClientConfig:     upstream.ClientConfig{URL: edgeDownUpstream, RequestTimeout: 5 * time.Second, SocketTimeout: 5 * time.Second},
					Store:            store,
					StartupTokens:    []string{token},
					Persister:        p,
					DisableStreaming: true,
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Start(ctx); err != nil {
					b.Fatalf("Start from the backup: %v", err)
				}
				for deadline := time.Now().Add(60 * time.Second); !e.Ready(); {
					if time.Now().After(deadline) {
						b.Fatal("not ready 60 s after Start")
					}
					time.Sleep(time.Millisecond)
				}
				b.StopTimer()
				if got := len(store.Environments()); got != envs {
					b.Fatalf("%d environments restored, want %d", got, envs)
				}
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				if err := e.Shutdown(sctx); err != nil {
					b.Errorf("Shutdown: %v", err)
				}
				cancel()
				b.StartTimer()
			}
		})
	}
}

func BenchmarkEdgeBinaryStartFromBackup(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "brink")
	bctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(bctx, "go", "build", "-o", bin, "github.com/brink-edge/brink/cmd/brink").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sz := range edgeStartSizes() {
		n, envs := sz[0], sz[1]
		b.Run("flags="+strconv.Itoa(n)+"/envs="+strconv.Itoa(envs), func(b *testing.B) {
			dir, token := edgeWriteBackup(b, n, envs)
			b.ReportAllocs()
			for b.Loop() {
				edgeRunBinary(b, bin, dir, token)
			}
		})
	}
}

// edgeRunBinary starts bin in edge mode on a free port, waits until it is
// ready and stops it; only the part until ready is timed.
func edgeRunBinary(b *testing.B, bin, dir, token string) {
	b.StopTimer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	_ = ln.Close()
	client := &fasthttp.HostClient{Addr: "127.0.0.1:" + port, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	var out bytes.Buffer
	cmd := exec.Command(bin, "edge", "-u", edgeDownUpstream, "-b", dir, "-t", token, "--port", port, "--interface", "127.0.0.1")
	cmd.Stdout, cmd.Stderr = &out, &out
	b.StartTimer()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		code, _, err := client.Get(nil, "http://127.0.0.1:"+port+"/internal-backstage/ready")
		if err == nil && code == fasthttp.StatusOK {
			break
		}
		select {
		case err := <-exited:
			b.Fatalf("brink exited before it was ready: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			b.StopTimer()
			stop()
			b.Fatalf("not ready 60 s after start\n%s", out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.StopTimer()
	stop()
	b.StartTimer()
}
