package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/brink-edge/brink/connsig"
)

func newTestConnector(t testing.TB, rec *recorder, mod func(*Config)) *Connector {
	t.Helper()
	cfg := Config{
		URL:           rec.url(),
		License:       testLicense,
		TLS:           &tls.Config{RootCAs: rec.pki.pool, MinVersion: tls.VersionTLS12},
		FlushInterval: 20 * time.Millisecond,
		BatchRecords:  50,
	}
	if rec.requireClientCert {
		p := rec.pki
		cfg.TLS = nil
		cfg.CAFile, cfg.ClientCertFile, cfg.ClientKeyFile = p.caFile, p.certFile, p.keyFile
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// remoteOf is the unique remote address of record i.
func remoteOf(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1+i%60000))
}

func addRecords(c *Connector, from, to int, pause time.Duration) {
	var s connsig.Signal
	for i := from; i < to; i++ {
		fillSignal(&s, uint32(i))
		c.Add(&s, remoteOf(i), time.Now())
		if pause > 0 && i%20 == 0 {
			time.Sleep(pause)
		}
	}
}

func closeConnector(t testing.TB, c *Connector, within time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	return c.Close(ctx)
}

// TestConnectorUpstreamRestart: the upstream (requiring a client
// certificate) stops and restarts on the same port while records are
// added; every record arrives, duplicates only under one Idempotency-Key.
func TestConnectorUpstreamRestart(t *testing.T) {
	rec := newRecorder(t, true)
	c := newTestConnector(t, rec, func(cfg *Config) { cfg.SpoolDir = t.TempDir() })
	const n = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		addRecords(c, 0, n, 5*time.Millisecond)
	}()
	time.Sleep(200 * time.Millisecond)
	rec.stop()
	time.Sleep(400 * time.Millisecond)
	spooled := c.Stats().SpoolFiles
	rec.restart()
	<-done
	rec.waitRemotes(t, n, 30*time.Second)
	if err := closeConnector(t, c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	dups := rec.checkDuplicates(t)
	st := c.Stats()
	for reason, k := range st.Dropped {
		if k != 0 {
			t.Errorf("dropped %d records (%s)", k, reason)
		}
	}
	if st.Accepted != n || st.SpoolFiles != 0 {
		t.Errorf("stats %+v", st)
	}
	if spooled == 0 {
		t.Errorf("nothing was spooled while the upstream was down")
	}
	rec.mu.Lock()
	if len(rec.licenses) != 1 || rec.licenses[testLicense] == 0 {
		t.Errorf("licences seen: %v", rec.licenses)
	}
	rec.mu.Unlock()
	t.Logf("%d records, %d spool files while down, %d duplicate arrivals, %d batches sent, %d failed",
		n, spooled, dups, st.BatchesSent, st.BatchesFailed)
}

// TestConnectorSpoolSurvivesRestart: batches spooled by one process are
// sent, in order and under their original keys, by the next.
func TestConnectorSpoolSurvivesRestart(t *testing.T) {
	rec := newRecorder(t, false)
	rec.stop()
	dir := t.TempDir()
	a := newTestConnector(t, rec, func(cfg *Config) {
		cfg.SpoolDir, cfg.InstanceID, cfg.FlushInterval = dir, "edge-a", time.Hour
	})
	addRecords(a, 0, 500, 0)
	if err := closeConnector(t, a, 2*time.Second); err != nil {
		t.Fatalf("Close: %v", err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"+spoolSuffix))
	sort.Strings(names)
	spooled, lastA := 0, uint64(0)
	for i, n := range names {
		b, ok := parseSpoolName(filepath.Base(n))
		if !ok || b.key != a.instance+"-"+itoa(int64(b.seq)) || !strings.HasPrefix(b.key, "edge-a.") || b.seq != uint64(i+1) {
			t.Fatalf("spool file %s: want key edge-a.<start>-%d", n, i+1)
		}
		spooled += b.records
		lastA = b.seq
	}
	if spooled != 500 {
		t.Fatalf("spool holds %d records in %d files, want 500", spooled, len(names))
	}
	rec.restart()
	b := newTestConnector(t, rec, func(cfg *Config) { cfg.SpoolDir, cfg.InstanceID = dir, "edge-b" })
	rec.waitRemotes(t, 500, 20*time.Second)
	// The next batch of b continues the sequence.
	addRecords(b, 500, 550, 0)
	rec.waitRemotes(t, 550, 20*time.Second)
	if err := closeConnector(t, b, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	rec.checkDuplicates(t)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if keys := rec.byRemote[remoteOf(0).String()]; len(keys) != 1 || keys[0] != a.instance+"-1" {
		t.Errorf("record 0 arrived under %q, want %s-1", keys, a.instance)
	}
	if keys := rec.byRemote[remoteOf(549).String()]; len(keys) != 1 || keys[0] != b.instance+"-"+itoa(int64(lastA+1)) ||
		!strings.HasPrefix(keys[0], "edge-b.") {
		t.Errorf("record 549 arrived under %q, want %s-%d (b continues a's sequence)", keys, b.instance, lastA+1)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("spool not empty: %v", left)
	}
}

func TestConnectorStatuses(t *testing.T) {
	t.Run("4xx is dropped and counted", func(t *testing.T) {
		rec := newRecorder(t, false)
		rec.status.Store(400)
		c := newTestConnector(t, rec, nil)
		addRecords(c, 0, 100, 0)
		waitFor(t, func() bool { return c.Stats().Dropped["rejected"] == 100 })
		if err := closeConnector(t, c, time.Second); err != nil {
			t.Fatal(err)
		}
		if st := c.Stats(); st.SpoolFiles != 0 || st.Sent != 0 {
			t.Errorf("stats %+v", st)
		}
	})
	for _, status := range []int64{503, 429, 408} {
		t.Run("retried "+itoa(status), func(t *testing.T) {
			rec := newRecorder(t, false)
			rec.status.Store(status)
			c := newTestConnector(t, rec, nil)
			addRecords(c, 0, 100, 0)
			waitFor(t, func() bool { return rec.ingestN.Load() >= 2 })
			if st := c.Stats(); st.Sent != 0 || st.SpoolFiles == 0 || st.Dropped["rejected"] != 0 {
				t.Errorf("stats %+v", st)
			}
			rec.status.Store(0)
			rec.waitRemotes(t, 100, 20*time.Second)
			if err := closeConnector(t, c, time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConnectorSpoolCap(t *testing.T) {
	rec := newRecorder(t, false)
	rec.stop()
	dir := t.TempDir()
	c := newTestConnector(t, rec, func(cfg *Config) { cfg.SpoolDir, cfg.SpoolMaxBytes = dir, 8000 })
	addRecords(c, 0, 2000, 0)
	if err := closeConnector(t, c, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.SpoolBytes > 8000 || st.Dropped["spool_full"] == 0 {
		t.Fatalf("stats %+v", st)
	}
	kept := 0
	names, _ := filepath.Glob(filepath.Join(dir, "*"+spoolSuffix))
	sort.Strings(names)
	var size int64
	for _, n := range names {
		b, ok := parseSpoolName(filepath.Base(n))
		if !ok {
			t.Fatalf("bad spool name %s", n)
		}
		fi, _ := os.Stat(n)
		size += fi.Size()
		kept += b.records
	}
	if uint64(kept)+st.Dropped["spool_full"] != 2000 || size != st.SpoolBytes {
		t.Errorf("kept %d + dropped %d != 2000, or size %d != %d", kept, st.Dropped["spool_full"], size, st.SpoolBytes)
	}
	if b, _ := parseSpoolName(filepath.Base(names[len(names)-1])); b.seq != c.seq-1 {
		t.Errorf("the newest batch (%d) was not kept: %s", c.seq-1, names[len(names)-1])
	}
}

func TestConnectorMemoryOnly(t *testing.T) {
	t.Run("Close flushes", func(t *testing.T) {
		rec := newRecorder(t, false)
		c := newTestConnector(t, rec, func(cfg *Config) { cfg.FlushInterval = time.Hour; cfg.BatchRecords = 1000 })
		addRecords(c, 0, 300, 0)
		if err := closeConnector(t, c, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if n := rec.distinctRemotes(); n != 300 {
			t.Fatalf("%d records arrived, want 300", n)
		}
	})
	t.Run("upstream down loses what memory holds, counted", func(t *testing.T) {
		rec := newRecorder(t, false)
		rec.stop()
		c := newTestConnector(t, rec, nil)
		addRecords(c, 0, 300, 0)
		err := closeConnector(t, c, 500*time.Millisecond)
		if !errors.Is(err, ErrUnsent) {
			t.Fatalf("Close = %v, want ErrUnsent", err)
		}
		if st := c.Stats(); st.Dropped["shutdown"] != 300 {
			t.Errorf("stats %+v", st)
		}
		c.Add(new(connsig.Signal), remoteOf(1), time.Now())
		if st := c.Stats(); st.Dropped["closed"] != 1 {
			t.Errorf("Add after Close: stats %+v", st)
		}
		if err := c.Close(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("second Close = %v", err)
		}
	})
	t.Run("memory bound", func(t *testing.T) {
		rec := newRecorder(t, false)
		rec.stop()
		c := newTestConnector(t, rec, func(cfg *Config) { cfg.MemoryMaxBytes = 2000; cfg.QueueRecords = 100 })
		addRecords(c, 0, 400, time.Millisecond)
		waitFor(t, func() bool { return c.Stats().Dropped["memory_full"] > 0 })
		_ = closeConnector(t, c, 200*time.Millisecond)
		st := c.Stats()
		total := st.Dropped["queue_full"] + st.Dropped["memory_full"] + st.Dropped["shutdown"] + st.Sent
		if total != 400 {
			t.Errorf("records unaccounted for: %+v", st)
		}
	})
}

func TestConnectorQueueFull(t *testing.T) {
	rec := newRecorder(t, false)
	c := newTestConnector(t, rec, func(cfg *Config) { cfg.QueueRecords, cfg.FlushInterval = 10, time.Hour })
	addRecords(c, 0, 15, 0)
	if st := c.Stats(); st.Accepted != 10 || st.Dropped["queue_full"] != 5 {
		t.Fatalf("stats %+v", st)
	}
	if err := closeConnector(t, c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := rec.distinctRemotes(); n != 10 {
		t.Fatalf("%d arrived, want 10", n)
	}
}

// TestKeysUniqueAcrossRestarts: an instance that restarts with an empty
// spool never reuses an Idempotency-Key.
func TestKeysUniqueAcrossRestarts(t *testing.T) {
	rec := newRecorder(t, false)
	keys := map[string]bool{}
	for range 2 {
		c := newTestConnector(t, rec, func(cfg *Config) { cfg.InstanceID = "edge" })
		addRecords(c, 0, 10, 0)
		if err := closeConnector(t, c, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for k := range rec.batches {
		keys[k] = true
	}
	if len(keys) != 2 {
		t.Fatalf("two runs of one instance sent under keys %v, want two distinct", keys)
	}
}

func TestRecordFormat(t *testing.T) {
	var r record
	fillSignal(&r.sig, 7)
	r.remote = netip.MustParseAddrPort("[2001:db8::1]:443")
	r.at = time.Date(2026, 11, 23, 1, 2, 3, 4000, time.UTC).UnixNano()
	got := string(appendRecord(nil, &r))
	want := `{"at":"2026-11-23T01:02:03.000004Z","remote":"[2001:db8::1]:443","signal":` + string(r.sig.AppendJSON(nil)) + "}\n"
	if got != want {
		t.Fatalf("appendRecord =\n%s want\n%s", got, want)
	}
	if strings.Count(got, "\n") != 1 {
		t.Fatalf("record is not one line")
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func itoa(n int64) string { return formatInt(n) }

func formatInt(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
