// Command ceiling is the static-response gnet server that bench/ab.sh
// measures the loop against (the ceiling of issue 4's "the 304 path
// reaches 70% of the ceiling"): one gnet loop per GOMAXPROCS (or -loops /
// CEILING_LOOPS loops: with GOMAXPROCS=2 and one loop it has the spare P
// that brink's loop keeps, see loop/procs.go), no HTTP parsing and no
// handler. It answers every request (everything up to an
// empty line; requests carry no body) with the bytes of the file named by
// -answer, for example brink's own 304 answer captured with curl.
//
//	ceiling -answer /tmp/304.raw -i 127.0.0.1 --port 39960
//
// It accepts brink's offline flags that bench/ab.sh passes and ignores
// those it does not know (a flag with a value must be written --flag=value
// or be one of -i and --port).
package main

import (
	"bytes"
	"fmt"
	"log"
	"net"
	"os"
	"runtime"
	"strconv"

	"github.com/panjf2000/gnet/v2"
)

type server struct {
	gnet.BuiltinEventEngine
	answer []byte
	booted chan gnet.Engine // receives the engine once it runs (tests)
}

func (s *server) OnBoot(eng gnet.Engine) gnet.Action {
	if s.booted != nil {
		s.booted <- eng
	}
	return gnet.None
}

var end = []byte("\r\n\r\n")

func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	in, _ := c.Peek(-1)
	used := 0
	for {
		i := bytes.Index(in[used:], end)
		if i < 0 {
			break
		}
		used += i + len(end)
		_, _ = c.Write(s.answer)
	}
	_, _ = c.Discard(used)
	return gnet.None
}

// serve runs s on addr with loops event loops until its engine stops.
func serve(s *server, addr string, loops int) error {
	return gnet.Run(s, "tcp://"+addr,
		gnet.WithNumEventLoop(loops), gnet.WithReuseAddr(true), gnet.WithTCPNoDelay(gnet.TCPNoDelay))
}

func main() {
	host, port, answerPath := "127.0.0.1", 0, ""
	loops, _ := strconv.Atoi(os.Getenv("CEILING_LOOPS"))
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-i", "--interface":
			i++
			if i < len(args) {
				host = args[i]
			}
		case "--port":
			i++
			if i < len(args) {
				port, _ = strconv.Atoi(args[i])
			}
		case "-loops", "--loops":
			i++
			if i < len(args) {
				loops, _ = strconv.Atoi(args[i])
			}
		case "-answer", "--answer":
			i++
			if i < len(args) {
				answerPath = args[i]
			}
		}
	}
	if answerPath == "" {
		answerPath = os.Getenv("CEILING_ANSWER")
	}
	answer, err := os.ReadFile(answerPath)
	if err != nil || len(answer) == 0 {
		log.Fatalf("ceiling: reading the answer file %q (-answer or CEILING_ANSWER): %v", answerPath, err)
	}
	if loops <= 0 {
		loops = runtime.GOMAXPROCS(0)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	fmt.Printf("ceiling: %d-byte answer on %s, %d loops, GOMAXPROCS %d\n", len(answer), addr, loops, runtime.GOMAXPROCS(0))
	if err := serve(&server{answer: answer}, addr, loops); err != nil {
		log.Fatalf("ceiling: %v", err)
	}
}
