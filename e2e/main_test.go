package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/brink-edge/brink/internal/testenv"
)

var (
	// repoRoot is the module root (the tests run in e2e/).
	repoRoot string
	// brinkBin is the brink binary TestMain builds from this checkout.
	brinkBin string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err == nil {
		_, err = os.Stat(filepath.Join(root, "go.mod"))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot find the module root above %s: %v\n", mustWd(), err)
		return 1
	}
	repoRoot = root
	// The brinks these tests start read connection signals with getsockopt,
	// not eBPF: an eBPF program brink attaches to its own cgroup (here the
	// root one) would also see the sockets of the ebpf/tcpsig tests that run
	// beside this package and break their expectations. SDK behaviour does
	// not depend on the capture mode.
	if os.Getenv("BRINK_SIGNAL_CAPTURE") == "" {
		os.Setenv("BRINK_SIGNAL_CAPTURE", "fallback")
	}
	dir, err := os.MkdirTemp("", "brink-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	brinkBin = filepath.Join(dir, "brink")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", brinkBin, "./cmd/brink")
	cmd.Dir = repoRoot
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/brink: %v\n%s", err, out.Bytes())
		return 1
	}
	// testenv.Main runs the tests, then stops the shared Unleash of the
	// edge-mode tests and removes testenv's temporary files.
	return testenv.Main(m)
}

func mustWd() string {
	wd, _ := os.Getwd()
	return wd
}
