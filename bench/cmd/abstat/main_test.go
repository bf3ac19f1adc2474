package main

import (
	"strings"
	"testing"
)

func TestQuantileAndMedian(t *testing.T) {
	xs := []float64{1, 2, 3, 4}
	if got := quantile(xs, 0.5); got != 2.5 {
		t.Errorf("quantile(0.5) = %v, want 2.5", got)
	}
	if got := quantile(xs, 0.25); got != 1.75 {
		t.Errorf("quantile(0.25) = %v, want 1.75", got)
	}
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median = %v, want 3", got)
	}
}

func TestBootstrapBracketsMedian(t *testing.T) {
	xs := []float64{0.9, 0.95, 1.0, 1.02, 1.05, 1.1, 0.98, 1.01}
	lo, hi := bootstrapMedian(xs, 2000, 1)
	m := median(xs)
	if lo > m || hi < m || lo < 0.9 || hi > 1.1 {
		t.Errorf("interval %v–%v does not bracket the median %v inside the data range", lo, hi, m)
	}
	lo2, hi2 := bootstrapMedian(xs, 2000, 1)
	if lo != lo2 || hi != hi2 {
		t.Error("same seed gave a different interval")
	}
}

func TestSummarisePairsRounds(t *testing.T) {
	in := `# comment
1 fe a 100 1000 10 5
1 fe b 110 900 9 5
2 fe b 220 900 9 5
2 fe a 200 1000 10 5
3 fe b 50 900 9 5
`
	d, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	summarise(&out, d)
	// Round 3 has no baseline and is left out: both paired ratios are 1.1.
	if !strings.Contains(out.String(), "b/a req/s              ratio median 1.100") {
		t.Errorf("summary lacks the paired req/s ratio 1.100:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "(n=2)") {
		t.Errorf("summary should pair 2 rounds:\n%s", out.String())
	}
}

func TestParseRejectsShortLines(t *testing.T) {
	if _, err := parse(strings.NewReader("1 fe a 100\n")); err == nil {
		t.Error("a short line was accepted")
	}
}
