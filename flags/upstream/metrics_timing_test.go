package upstream

import (
	"context"
	"testing"

	"github.com/brink-edge/brink/flags"
)

var metricsSink int

// discardPoster accepts every post.
type discardPoster struct{}

func (discardPoster) PostBulkMetrics(context.Context, string, []byte) (int, error) { return 202, nil }

func benchCounts(n int) []flags.ClientMetricsEnv {
	counts := make([]flags.ClientMetricsEnv, n)
	for i := range counts {
		counts[i] = testCount(i, "production")
		if counts[i].Variants == nil {
			counts[i].Variants = map[string]uint32{}
		}
	}
	return counts
}

// BenchmarkMetricsForwardSlice cuts and serialises a 100,000-key
// aggregate into bodies under 95 KiB.
func BenchmarkMetricsForwardSlice(b *testing.B) {
	b.Run("100k_keys", func(b *testing.B) {
		batch := &envMetrics{env: "production", metrics: benchCounts(100_000)}
		for i := range 1000 {
			batch.apps = append(batch.apps, testApp(i, "production"))
		}
		var total int
		for b.Loop() {
			s := newBulkSlicer(DefaultMaxBodyBytes, batch)
			total = 0
			for {
				body, _, ok := s.next()
				if !ok {
					break
				}
				total += len(body)
			}
			metricsSink += total
		}
		b.SetBytes(int64(total))
	})
}

// BenchmarkMetricsForwardRound is a whole round: drain a 100,000-key
// aggregate, group, cut, serialise and post to a poster that accepts.
func BenchmarkMetricsForwardRound(b *testing.B) {
	b.Run("100k_keys", func(b *testing.B) {
		counts := benchCounts(100_000)
		agg := flags.NewMetricsAggregator(flags.MetricsConfig{})
		f, err := NewMetricsForwarder(MetricsConfig{Poster: discardPoster{}, Aggregator: agg, TokenFor: tokenFor})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			b.StopTimer()
			agg.AddBulk("", nil, &flags.BulkMetrics{Metrics: counts})
			b.StartTimer()
			if err := f.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		metricsSink += int(f.Stats().SentBytes)
	})
}
