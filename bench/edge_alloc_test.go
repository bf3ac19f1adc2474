//go:build !race

package bench

// Serving stays allocation-free while syncs and metric flushes run.
//
// testing.AllocsPerRun and runtime.MemStats count the mallocs of the whole
// process, so they cannot tell a request's allocations from those of a
// sync compiling 5,000 flags on another goroutine at the same time, and
// subtracting a separately measured count of the background work would
// subtract one noisy number from another. Instead:
//
//  1. Single goroutine, exact counts. The handler is driven on one
//     goroutine and nothing else runs. Between measured windows the same
//     goroutine decodes, compiles and publishes a changed 5,000-flag state
//     (outside the windows, so its allocations are not in them). The
//     requests on the old snapshot and on the new one are measured with
//     testing.AllocsPerRun (least of up to 5 runs, as flags/api does); the
//     first request on the new snapshot, across the swap, is counted
//     exactly with runtime.MemStats around that one call, and its
//     allocations are also attributed by stack as in 2.
//
//  2. Concurrent, allocations attributed by call stack. With
//     runtime.MemProfileRate = 1 the runtime records every allocation with
//     its call stack (up to 128 frames, the default
//     GODEBUG=profstackdepth) in the "allocs" profile, read here in its
//     debug=1 text form, which keeps the whole stack. The handler runs in
//     a loop under edgeServeWindow, a function nothing else calls, while
//     other goroutines decode+compile+publish changed 5,000-flag states
//     back to back and fill and drain a MetricsAggregator. The profile is
//     read before and after (after runtime.GC, which publishes it), and an
//     allocation whose stack holds edgeServeWindow is the serving
//     goroutine's, whatever the other goroutines allocate meanwhile.
//
// Allocations are sorted by cause (edgeAllocCause): the scope cache filled
// by the first request of a token scope after a publish
// (api.(*Handler).scopeFor); a sync.Pool refilled after GC emptied it or
// the goroutine moved to another P (flags/api's request state, regexp's
// matchers; GC runs often while syncs make garbage); a kept answer buffer
// regrown (after its pooled owner was refilled, or for a longer answer);
// and anything else, which must be 0. The scope cost must be paid at most
// once per token scope and snapshot, and pool refills plus regrowth must
// stay far below one per request (64 per GC cycle and snapshot).
//
// Blind spot: the profile does not record an allocation of under 16 bytes
// without pointers that the runtime packs into a tiny block already
// started. A per-request one would still open a new block at least every
// 16 requests, so "anything else" would not stay 0; in 1 the profile's
// count is compared with the exact MemStats count and a difference logged.

import (
	"bufio"
	"bytes"
	"fmt"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brink-edge/brink/flags"
)

// edgeAllocFlags is the size of the state republished during the tests.
const edgeAllocFlags = 5000

func TestEdgeServingAllocFreeDuringSync(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles 5,000-flag states; skipped with -short")
	}
	raws := edgeRawVariants(t, edgeAllocFlags, 4)
	store := new(flags.Store)
	edgeSync(t, store, edgeEnv, raws[0])
	agg := flags.NewMetricsAggregator(flags.MetricsConfig{AppName: "brink-bench", InstanceID: "bench"})
	h := edgeHandler(t, store, edgeTokenCache(), agg)
	uris := edgeFrontendURIs(256)
	tokens := []string{edgeFront, edgeFrontScoped}

	// maxScope is the most allocations one first request after a publish
	// made building its scope, in the single-goroutine measurement.
	var maxScope int64
	t.Run("single goroutine", func(t *testing.T) {
		for _, tok := range tokens {
			run, ctx := edgeLoop(h, uris, tok)
			for range 2 * len(uris) {
				run()
			}
			if ctx.Response.StatusCode() != 200 {
				t.Fatalf("%s: status %d: %.200s", tok, ctx.Response.StatusCode(), ctx.Response.Body())
			}
			if n := edgeMinAllocs(run); n != 0 {
				t.Errorf("%s: %v allocations per request on the first snapshot, want 0", tok, n)
			}
			var firsts []string
			for p := range 4 {
				before := edgeReadAllocs(t)
				for range 16 { // refill the pools the GCs of edgeReadAllocs emptied
					run()
				}
				edgeSync(t, store, edgeEnv, raws[(p+1)%len(raws)])
				old := runtime.MemProfileRate
				runtime.MemProfileRate = 1
				first := edgeMallocs(func() { edgeFirstRequest(run) })
				runtime.MemProfileRate = old
				c, others := edgeAttribute(before, edgeReadAllocs(t), "github.com/brink-edge/brink/bench.edgeFirstRequest")
				if ctx.Response.StatusCode() != 200 {
					t.Fatalf("%s: status %d after publish %d", tok, ctx.Response.StatusCode(), p)
				}
				if c[causeOther] != 0 {
					t.Errorf("%s: the first request after publish %d allocated %d objects outside the scope cache, pool refills and buffer regrowth:\n%s",
						tok, p, c[causeOther], strings.Join(others, "\n"))
				}
				if sum := c[causeScope] + c[causePool] + c[causeGrowth] + c[causeOther]; uint64(sum) != first {
					// Objects under 16 bytes without pointers packed into a
					// tiny block already started are not profiled.
					t.Logf("%s: publish %d: the profile attributes %d of the %d mallocs counted", tok, p, sum, first)
				}
				maxScope = max(maxScope, c[causeScope])
				firsts = append(firsts, fmt.Sprintf("%d (%d scope, %d pool, %d growth)", first, c[causeScope], c[causePool], c[causeGrowth]))
				if n := edgeMinAllocs(run); n != 0 {
					t.Errorf("%s: %v allocations per request after publish %d, want 0", tok, n, p)
				}
			}
			t.Logf("%s: 0 allocations per request before and after each publish; the first request after each of 4 publishes: %s mallocs",
				tok, strings.Join(firsts, ", "))
		}
	})

	t.Run("concurrent syncs and metric flushes", func(t *testing.T) {
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = old }()

		runs := make([]func(), len(tokens))
		for i, tok := range tokens {
			runs[i], _ = edgeLoop(h, uris, tok)
			runs[i]()
		}
		before := edgeReadAllocs(t)

		const wantPublishes = 4
		var publishes, flushes atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { // the refresher: decode, compile, publish, back to back
			for i := 0; i < 4*wantPublishes; i++ {
				select {
				case <-stop:
					return
				default:
				}
				edgeSync(t, store, edgeEnv, raws[i%len(raws)])
				publishes.Add(1)
			}
		})
		wg.Go(func() { // SDK reports into the aggregator; the forwarder drains it every 50
			hour := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
			features := make([]string, 50)
			for i := range features {
				features[i] = "checkout.feature-" + strconv.Itoa(i)
			}
			for i := 0; i < 1_000_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				agg.AddMetrics(edgeEnv, edgeReport("app-"+strconv.Itoa(i%20), hour, features, true))
				if i%50 == 49 {
					_ = agg.Drain()
					flushes.Add(1)
				}
				if i%10 == 9 {
					time.Sleep(time.Millisecond) // leave the serving goroutine some CPU
				}
			}
		})
		gc0 := edgeGCCycles()
		served, versions := edgeServeWindow(runs, store, &publishes, wantPublishes, 2_000_000)
		gcs := edgeGCCycles() - gc0
		close(stop)
		wg.Wait()
		after := edgeReadAllocs(t)

		c, others := edgeAttribute(before, after, "github.com/brink-edge/brink/bench.edgeServeWindow")
		scope, pool, growth, other := c[causeScope], c[causePool], c[causeGrowth], c[causeOther]
		t.Logf("%d requests served while %d states of %d flags were published and %d metric flushes ran; the serving goroutine saw %d snapshot versions and %d GC cycles ran",
			served, publishes.Load(), edgeAllocFlags, flushes.Load(), versions, gcs)
		t.Logf("allocations on the serving goroutine: %d building scopes after publishes, %d refilling sync.Pools emptied by GC, %d regrowing answer buffers, %d elsewhere; %.4f per request in all",
			scope, pool, growth, other, float64(scope+pool+growth+other)/float64(served))
		if publishes.Load() < wantPublishes {
			t.Errorf("only %d publishes overlapped the serving window, want %d", publishes.Load(), wantPublishes)
		}
		if other != 0 {
			t.Errorf("%d allocations on the request path outside the scope cache, pool refills and buffer regrowth:\n%s", other, strings.Join(others, "\n"))
		}
		if limit := int64(versions*len(tokens)) * maxScope; scope > limit {
			t.Errorf("%d allocations building scopes; at most %d (%d versions × %d tokens × %d) expected", scope, limit, versions, len(tokens), maxScope)
		}
		// A refill costs a handful of objects per pool and the regrowth of
		// one answer buffer (a few doublings); 64 per GC cycle and per
		// version is ample, and far below one allocation per request.
		if limit := 64 * int64(gcs+uint64(versions)); pool+growth > limit {
			t.Errorf("%d allocations refilling pools and regrowing buffers over %d GC cycles and %d versions; more than %d suggests a per-request allocation", pool+growth, gcs, versions, limit)
		}
	})
}

// edgeServeWindow serves requests in turn with runs until publishes
// reaches want (or max requests were served) and returns how many it
// served and how many snapshot versions it saw. Nothing else calls it, so
// the allocations under it in the profile are the serving goroutine's.
//
//go:noinline
func edgeServeWindow(runs []func(), store *flags.Store, publishes *atomic.Int64, want int64, max int) (served, versions int) {
	last := uint64(0)
	for served < max && publishes.Load() < want {
		if v := store.Load(edgeEnv).Version; v != last {
			last = v
			versions++
		}
		runs[served%len(runs)]()
		served++
	}
	return served, versions
}

// Causes of an allocation on the serving goroutine, by its stack.
const (
	causeOther  = iota
	causeScope  // the scope cache filled by the first request of a token scope after a publish
	causePool   // a sync.Pool emptied by GC refilled: flags/api's request state, regexp's matchers
	causeGrowth // a kept answer buffer regrown: after its pooled owner was refilled, or for a longer answer
)

// edgeAllocCause classifies an allocation by its stack (innermost first,
// runtime frames left out).
func edgeAllocCause(funcs []string) int {
	for _, f := range funcs {
		switch {
		case f == "github.com/brink-edge/brink/flags/api.(*Handler).scopeFor":
			return causeScope
		case strings.HasPrefix(f, "sync.(*Pool)."), f == "regexp.(*Regexp).doExecute":
			// A regexp allocates while matching only when its internal
			// pools (onePassPool, matchPool, bitStatePool) come up empty.
			return causePool
		}
	}
	if len(funcs) > 0 {
		switch funcs[0] {
		case "github.com/brink-edge/brink/flags.(*Plan).AppendFrontend", "github.com/valyala/bytebufferpool.(*ByteBuffer).Write":
			return causeGrowth
		}
	}
	return causeOther
}

// edgeGCCycles returns the number of completed GC cycles.
func edgeGCCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// edgeFirstRequest runs the first request after a publish; nothing else
// calls it, so the allocations under it in the profile are that request's.
//
//go:noinline
func edgeFirstRequest(run func()) { run() }

// edgeAttribute sums, by cause, the allocations between the profiles
// before and after whose stacks hold the function root, and describes
// those of no known cause.
func edgeAttribute(before, after map[string]*edgeAllocRecord, root string) (counts [4]int64, others []string) {
	for key, rec := range after {
		n := rec.objects
		if b, ok := before[key]; ok {
			n -= b.objects
		}
		if n == 0 || !slices.Contains(rec.funcs, root) {
			continue
		}
		cause := edgeAllocCause(rec.funcs)
		counts[cause] += n
		if cause == causeOther {
			others = append(others, fmt.Sprintf("%d objects at %s", n, strings.Join(rec.funcs, " < ")))
		}
	}
	return counts, others
}

// edgeMinAllocs is the least of a few testing.AllocsPerRun measurements of
// f, so that a GC cycle emptying a sync.Pool mid-run (the reqState pool of
// flags/api) does not count as a request's allocation.
func edgeMinAllocs(f func()) float64 {
	least := -1.0
	for range 5 {
		if n := testing.AllocsPerRun(100, f); least < 0 || n < least {
			least = n
		}
		if least == 0 {
			break
		}
	}
	return least
}

// edgeMallocs returns the mallocs of one call of f (nothing else runs).
func edgeMallocs(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.Mallocs - m0.Mallocs
}

// edgeAllocRecord is one stack of the allocs profile: the objects
// allocated there so far and the functions of the stack, innermost first.
type edgeAllocRecord struct {
	objects int64
	funcs   []string
}

// edgeReadAllocs reads the cumulative allocs profile, in its debug=1 text
// form (which carries the full stacks), by stack.
func edgeReadAllocs(t *testing.T) map[string]*edgeAllocRecord {
	t.Helper()
	runtime.GC() // the profile holds what was allocated before the last completed cycle
	runtime.GC()
	var buf bytes.Buffer
	if err := pprof.Lookup("allocs").WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	out := map[string]*edgeAllocRecord{}
	var cur *edgeAllocRecord
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# runtime.MemStats"):
			return out
		case strings.HasPrefix(line, "#"):
			if f := strings.Fields(line); cur != nil && len(f) >= 3 {
				name := f[2]
				if i := strings.LastIndex(name, "+0x"); i >= 0 {
					name = name[:i]
				}
				cur.funcs = append(cur.funcs, name)
			}
		case strings.HasPrefix(line, "heap profile:"):
			continue
		case strings.Contains(line, "] @"):
			// "inuse: bytes [allocs: bytes] @ pc pc ..."
			head, pcs, _ := strings.Cut(line, " @")
			_, alloc, ok := strings.Cut(head, "[")
			if !ok {
				cur = nil
				continue
			}
			objs, _, _ := strings.Cut(alloc, ":")
			n, err := strconv.ParseInt(strings.TrimSpace(objs), 10, 64)
			if err != nil {
				t.Fatalf("allocs profile: cannot read %q", line)
			}
			if prev, ok := out[pcs]; ok { // the same stack twice: sum
				prev.objects += n
				cur = nil
				continue
			}
			cur = &edgeAllocRecord{objects: n}
			out[pcs] = cur
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
