// Command dataset prints a deterministic /api/client/features document of n
// flags for the peer comparison (bench/compare.sh) and the loopback
// benchmarks: brink serves it offline, and the Node Unleash Proxy reads it
// back from brink's /api/client/features.
//
//	go run ./bench/cmd/dataset -n 200 -seed 1 > features.json
//
// With -source auto (the default) it takes flags.GenerateDataset when that
// yields n features, and otherwise its own generator (-source bench); it
// names the one it used on stderr.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/brink-edge/brink/bench/internal/dataset"
	"github.com/brink-edge/brink/flags"
)

func main() {
	n := flag.Int("n", 200, "number of flags")
	seed := flag.Uint64("seed", 1, "generator seed")
	source := flag.String("source", "auto", "generator: auto, flags (flags.GenerateDataset) or bench (this command's)")
	flag.Parse()

	var (
		doc  any
		used string
	)
	switch *source {
	case "flags", "auto":
		cf := flags.GenerateDataset(*n, int64(*seed))
		if cf != nil && len(cf.Features) == *n {
			doc, used = cf, "flags"
			break
		}
		if *source == "flags" {
			fail(fmt.Errorf("flags.GenerateDataset(%d, %d) did not yield %d features", *n, *seed, *n))
		}
		fallthrough
	case "bench":
		doc, used = dataset.Generate(*n, *seed), "bench"
	default:
		fail(fmt.Errorf("unknown -source %q", *source))
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(doc); err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "dataset: %d flags, seed %d, generator %s\n", *n, *seed, used)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dataset:", err)
	os.Exit(2)
}
