// Command abstat summarises interleaved A/B benchmark rounds (bench/ab.sh)
// as ratios against a baseline with their spread, so that "faster" or
// "costs under 5%" is a statement with an uncertainty.
//
// Input (stdin or the file named by the first argument), one measurement a
// line, whitespace separated, '#' lines ignored:
//
//	round case server rps p99_us cpu_us_per_req load_cpu_us_per_req
//
// For every case, the first server that appears is the baseline. For each
// other server and each round in which both were measured, the per-round
// ratio server/baseline is taken for every metric (the two ran seconds
// apart, so slow drift of the machine cancels). Printed per case and
// metric: the median of the per-round ratios, the interquartile range, and
// a bootstrap 95% interval of the median (10,000 resamples of the rounds,
// fixed seed, so a rerun on the same input prints the same figures), plus
// each server's median absolute value.
package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
)

// metrics are the columns after round, case and server.
var metrics = []string{"req/s", "p99 µs", "server CPU µs/req", "load CPU µs/req"}

type key struct{ cas, server string }

type data struct {
	cases   []string            // in order of appearance
	servers map[string][]string // per case, in order of appearance
	rows    map[key]map[int][]float64
}

func parse(r io.Reader) (*data, error) {
	d := &data{servers: map[string][]string{}, rows: map[key]map[int][]float64{}}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Fields(t)
		if len(f) != 3+len(metrics) {
			return nil, fmt.Errorf("line %d: want %d fields, got %d: %q", line, 3+len(metrics), len(f), t)
		}
		round, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: round %q: %w", line, f[0], err)
		}
		vals := make([]float64, len(metrics))
		for i := range metrics {
			if vals[i], err = strconv.ParseFloat(f[3+i], 64); err != nil {
				return nil, fmt.Errorf("line %d: %s %q: %w", line, metrics[i], f[3+i], err)
			}
		}
		k := key{f[1], f[2]}
		if !slices.Contains(d.cases, k.cas) {
			d.cases = append(d.cases, k.cas)
		}
		if !slices.Contains(d.servers[k.cas], k.server) {
			d.servers[k.cas] = append(d.servers[k.cas], k.server)
		}
		if d.rows[k] == nil {
			d.rows[k] = map[int][]float64{}
		}
		d.rows[k][round] = vals
	}
	return d, sc.Err()
}

// quantile returns the q-quantile of sorted xs by linear interpolation.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	pos := q * float64(len(xs)-1)
	i := int(pos)
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[i] + (pos-float64(i))*(xs[i+1]-xs[i])
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return quantile(s, 0.5)
}

// bootstrapMedian returns a 95% percentile-bootstrap interval of the
// median of xs.
func bootstrapMedian(xs []float64, resamples int, seed uint64) (lo, hi float64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	meds := make([]float64, resamples)
	s := make([]float64, len(xs))
	for i := range meds {
		for j := range s {
			s[j] = xs[rng.IntN(len(xs))]
		}
		meds[i] = median(s)
	}
	slices.Sort(meds)
	return quantile(meds, 0.025), quantile(meds, 0.975)
}

func summarise(w io.Writer, d *data) {
	for _, c := range d.cases {
		srvs := d.servers[c]
		base := srvs[0]
		fmt.Fprintf(w, "## %s (baseline %s)\n", c, base)
		for _, s := range srvs {
			fmt.Fprintf(w, "%-28s rounds %2d  median", s, len(d.rows[key{c, s}]))
			for i, m := range metrics {
				var xs []float64
				for _, v := range d.rows[key{c, s}] {
					xs = append(xs, v[i])
				}
				fmt.Fprintf(w, "  %s %.4g", m, median(xs))
			}
			fmt.Fprintln(w)
		}
		for _, s := range srvs[1:] {
			for i, m := range metrics {
				var ratios []float64
				for round, v := range d.rows[key{c, s}] {
					b, ok := d.rows[key{c, base}][round]
					if ok && b[i] > 0 {
						ratios = append(ratios, v[i]/b[i])
					}
				}
				if len(ratios) == 0 {
					continue
				}
				sorted := slices.Clone(ratios)
				slices.Sort(sorted)
				lo, hi := bootstrapMedian(ratios, 10000, 1)
				fmt.Fprintf(w, "%s/%s %-18s ratio median %.3f  IQR %.3f–%.3f  95%% CI %.3f–%.3f  (n=%d)\n",
					s, base, m, quantile(sorted, 0.5), quantile(sorted, 0.25), quantile(sorted, 0.75), lo, hi, len(ratios))
			}
		}
	}
}

func main() {
	in := io.Reader(os.Stdin)
	if len(os.Args) > 1 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "abstat:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	}
	d, err := parse(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "abstat:", err)
		os.Exit(1)
	}
	summarise(os.Stdout, d)
}
