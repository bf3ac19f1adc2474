package admin

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The pprof handlers are written against runtime/pprof rather than taken
// from net/http/pprof: importing net/http/pprof registers its handlers on
// http.DefaultServeMux as a side effect, so any later use of the default
// mux anywhere in the process would expose profiles without a token. The
// paths and parameters are net/http/pprof's, which `go tool pprof` speaks:
//
//	/debug/pprof/                index of the runtime's profiles
//	/debug/pprof/{name}          a named profile (heap, goroutine, allocs,
//	                             block, mutex, threadcreate); ?debug=N for
//	                             text, ?gc=1 runs a GC before a heap profile
//	/debug/pprof/profile         CPU profile for ?seconds= (default 30)
//	/debug/pprof/trace           execution trace for ?seconds= (default 1)
//	/debug/pprof/cmdline         the command line, NUL-separated
//
// /debug/pprof/symbol is left out: profiles carry their symbols since Go
// 1.9 and `go tool pprof` no longer asks for it.

// maxProfileSeconds bounds ?seconds= so a request cannot hold the CPU
// profiler (one per process) for longer than the listener's write timeout.
const maxProfileSeconds = 100

func registerPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/{$}", pprofIndex)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprofCmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprofCPU)
	mux.HandleFunc("GET /debug/pprof/trace", pprofTrace)
	mux.HandleFunc("GET /debug/pprof/{name}", pprofNamed)
}

func pprofIndex(w http.ResponseWriter, _ *http.Request) {
	profiles := pprof.Profiles()
	sort.Slice(profiles, func(i, j int) bool { return profiles[i].Name() < profiles[j].Name() })
	var b bytes.Buffer
	b.WriteString("<html><head><title>/debug/pprof/</title></head><body><p>Profiles:</p><table>\n")
	for _, p := range profiles {
		name := html.EscapeString(p.Name())
		fmt.Fprintf(&b, "<tr><td>%d</td><td><a href=\"%s?debug=1\">%s</a></td></tr>\n", p.Count(), name, name)
	}
	b.WriteString("<tr><td></td><td><a href=\"profile?seconds=30\">profile</a> (CPU, 30 s)</td></tr>\n")
	b.WriteString("<tr><td></td><td><a href=\"trace?seconds=1\">trace</a> (execution trace, 1 s)</td></tr>\n")
	b.WriteString("<tr><td></td><td><a href=\"cmdline\">cmdline</a></td></tr>\n")
	b.WriteString("</table></body></html>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

func pprofCmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, strings.Join(os.Args, "\x00"))
}

// seconds reads ?seconds=, def when absent; 0 and an error text when bad.
func seconds(r *http.Request, def int) (int, string) {
	v := r.URL.Query().Get("seconds")
	if v == "" {
		return def, ""
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > maxProfileSeconds {
		return 0, fmt.Sprintf("seconds=%q: want a whole number from 1 to %d", v, maxProfileSeconds)
	}
	return n, ""
}

func pprofCPU(w http.ResponseWriter, r *http.Request) {
	sec, bad := seconds(r, 30)
	if bad != "" {
		http.Error(w, bad, http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		// Another profile is running.
		http.Error(w, "cannot start the CPU profile: "+err.Error(), http.StatusConflict)
		return
	}
	wait(r, sec)
	pprof.StopCPUProfile()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="profile"`)
	w.Write(buf.Bytes())
}

func pprofTrace(w http.ResponseWriter, r *http.Request) {
	sec, bad := seconds(r, 1)
	if bad != "" {
		http.Error(w, bad, http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		http.Error(w, "cannot start the trace: "+err.Error(), http.StatusConflict)
		return
	}
	wait(r, sec)
	trace.Stop()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="trace"`)
	w.Write(buf.Bytes())
}

// wait sleeps sec seconds or until the client goes away.
func wait(r *http.Request, sec int) {
	t := time.NewTimer(time.Duration(sec) * time.Second)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

func pprofNamed(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	p := pprof.Lookup(name)
	if p == nil {
		http.Error(w, "unknown profile "+strconv.Quote(name), http.StatusNotFound)
		return
	}
	debug, _ := strconv.Atoi(r.URL.Query().Get("debug"))
	if name == "heap" && r.URL.Query().Get("gc") != "" {
		runtime.GC()
	}
	var buf bytes.Buffer
	if err := p.WriteTo(&buf, debug); err != nil {
		http.Error(w, "writing profile "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	if debug > 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	}
	w.Write(buf.Bytes())
}
