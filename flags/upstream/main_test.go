package upstream

import (
	"os"
	"testing"

	"github.com/brink-edge/brink/internal/testenv"
)

// TestMain is the package's one TestMain: testenv.Main stops the shared
// Unleash of the real-server tests and removes its files.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
