package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// respHeadTests covers ParseHead's rules and AppendClientHead's output
// (with closeClient false).
var respHeadTests = []struct {
	name      string
	head      bool // HEAD request
	in        string
	err       error
	status    int
	framing   Framing
	length    int64
	keepAlive bool
	interim   bool
	client    string
}{
	{
		name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
		status: 200, framing: FramingLength, length: 5, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
	},
	{
		name: "zero length", in: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		status: 200, framing: FramingLength, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	},
	{
		name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		status: 200, framing: FramingChunked, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	},
	{
		name: "CL and TE chunked: CL dropped", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: Chunked\r\nX: y\r\n\r\n",
		status: 200, framing: FramingChunked, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nX: y\r\n\r\n",
	},
	{
		name: "TE gzip, chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		status: 200, framing: FramingChunked, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	},
	{
		name: "TE over two fields", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
		status: 200, framing: FramingChunked, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
	},
	{
		name: "TE chunked, gzip: close", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 3\r\n\r\n",
		status: 200, framing: FramingClose,
		client: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nConnection: close\r\n\r\n",
	},
	{
		name: "TE gzip only: close", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		status: 200, framing: FramingClose,
		client: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n",
	},
	{
		name: "TE with empty elements", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked ,\r\n\r\n",
		status: 200, framing: FramingChunked, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked ,\r\n\r\n",
	},
	{name: "TE chunked twice", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrRespMalformed},
	{name: "TE empty", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", err: ErrRespMalformed},
	{name: "TE bad coding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chun\"ked\r\n\r\n", err: ErrRespMalformed},
	{
		name: "duplicate equal CL", in: "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nA: b\r\nContent-Length: 3\r\n\r\n",
		status: 200, framing: FramingLength, length: 3, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nA: b\r\n\r\n",
	},
	{
		name: "CL list 1,1", in: "HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n",
		status: 200, framing: FramingLength, length: 1, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n",
	},
	{
		name: "CL list with spaces", in: "HTTP/1.1 200 OK\r\nContent-Length:  7 , 7\t\r\n\r\n",
		status: 200, framing: FramingLength, length: 7, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n",
	},
	{name: "conflicting CL", in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", err: ErrRespMalformed},
	{name: "conflicting CL list", in: "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n", err: ErrRespMalformed},
	{name: "negative CL", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: ErrRespMalformed},
	{name: "plus CL", in: "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", err: ErrRespMalformed},
	{name: "hex CL", in: "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", err: ErrRespMalformed},
	{name: "empty CL", in: "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", err: ErrRespMalformed},
	{name: "CL empty element", in: "HTTP/1.1 200 OK\r\nContent-Length: 1,\r\n\r\n", err: ErrRespMalformed},
	{name: "CL overflow", in: "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", err: ErrRespMalformed},
	{
		name: "CL max int64", in: "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n",
		status: 200, framing: FramingLength, length: 1<<63 - 1, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n",
	},
	{
		name: "HEAD with CL", head: true, in: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
		status: 200, framing: FramingNone, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
	},
	{
		name: "HEAD with TE", head: true, in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		status: 200, framing: FramingNone, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	},
	{
		name: "HEAD without length", head: true, in: "HTTP/1.1 200 OK\r\n\r\n",
		status: 200, framing: FramingNone, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\n\r\n",
	},
	{
		name: "204 with TE", in: "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
		status: 204, framing: FramingNone, keepAlive: true,
		client: "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
	},
	{
		name: "304 with TE and CL", in: "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\nETag: \"x\"\r\n\r\n",
		status: 304, framing: FramingNone, keepAlive: true,
		client: "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\nETag: \"x\"\r\n\r\n",
	},
	{
		name: "100 continue", in: "HTTP/1.1 100 Continue\r\n\r\n",
		status: 100, framing: FramingNone, keepAlive: true, interim: true,
		client: "HTTP/1.1 100 Continue\r\n\r\n",
	},
	{
		name: "103 early hints", in: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
		status: 103, framing: FramingNone, keepAlive: true, interim: true,
		client: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
	},
	{name: "101 refused", in: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", err: ErrRespUpgrade},
	{
		name: "no length: close", in: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
		status: 200, framing: FramingClose,
		client: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n",
	},
	{
		name: "HTTP/1.0 default close", in: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n",
		status: 200, framing: FramingLength, length: 2,
		client: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
	},
	{
		name: "HTTP/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n",
		status: 200, framing: FramingLength, length: 2, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
	},
	{
		name: "HTTP/1.0 keep-alive and close", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\n",
		status: 200, framing: FramingLength, length: 2,
		client: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
	},
	{
		name: "HTTP/1.0 keep-alive without length", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n",
		status: 200, framing: FramingClose,
		client: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
	},
	{
		name: "HTTP/1.0 with TE: close", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
		status: 200, framing: FramingClose,
		client: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
	},
	{
		name: "connection close", in: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
		status: 200, framing: FramingLength, length: 1,
		client: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n",
	},
	{
		name: "connection close in a list, any case", in: "HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 1\r\n\r\n",
		status: 200, framing: FramingLength, length: 1,
		client: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n",
	},
	{
		name: "connection names custom fields", in: "HTTP/1.1 200 OK\r\nX-Secret: 1\r\nConnection: x-secret\r\nX-Public: 2\r\nconnection: ,X-Other\r\nx-other: 3\r\nContent-Length: 0\r\n\r\n",
		status: 200, framing: FramingLength, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nX-Public: 2\r\nContent-Length: 0\r\n\r\n",
	},
	{
		name: "connection names a two-letter field", in: "HTTP/1.1 200 OK\r\nConnection: x1\r\nX1: a\r\nX2: b\r\nContent-Length: 0\r\n\r\n",
		status: 200, framing: FramingLength, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nX2: b\r\nContent-Length: 0\r\n\r\n",
	},
	{
		name: "connection cannot drop framing fields", in: "HTTP/1.1 200 OK\r\nConnection: Content-Length, Transfer-Encoding\r\nContent-Length: 1\r\n\r\n",
		status: 200, framing: FramingLength, length: 1, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n",
	},
	{
		name: "hop-by-hop fields dropped", in: "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nProxy-Authenticate: Basic\r\nProxy-Authorization: x\r\nTE: trailers\r\nTrailer: Expires\r\nUpgrade: h2c\r\nServer: up\r\nTransfer-Encoding: chunked\r\n\r\n",
		status: 200, framing: FramingChunked, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nServer: up\r\nTransfer-Encoding: chunked\r\n\r\n",
	},
	{
		name: "bare LF head", in: "HTTP/1.1 404 Not Found\nContent-Length: 3\nX-A: b\n\n",
		status: 404, framing: FramingLength, length: 3, keepAlive: true,
		client: "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A: b\r\n\r\n",
	},
	{
		name: "mixed line ends", in: "HTTP/1.1 200 OK\nContent-Length: 3\r\nX-A: b\n\r\n",
		status: 200, framing: FramingLength, length: 3, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n\r\n",
	},
	{
		name: "no reason", in: "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
		status: 200, framing: FramingLength, keepAlive: true,
		client: "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
	},
	{
		name: "empty reason", in: "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
		status: 200, framing: FramingLength, keepAlive: true,
		client: "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
	},
	{
		name: "reason with spaces, tab and obs-text", in: "HTTP/1.1 599 Very\tStr\xe4nge  Thing \r\nContent-Length: 0\r\n\r\n",
		status: 599, framing: FramingLength, keepAlive: true,
		client: "HTTP/1.1 599 Very\tStr\xe4nge  Thing \r\nContent-Length: 0\r\n\r\n",
	},
	{
		name: "field values kept verbatim", in: "HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Ws:   a  b \t\r\nContent-Length: 0\r\n\r\n",
		status: 200, framing: FramingLength, keepAlive: true,
		client: "HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Ws:   a  b \t\r\nContent-Length: 0\r\n\r\n",
	},
	{name: "HTTP/2.0", in: "HTTP/2.0 200 OK\r\n\r\n", err: ErrRespMalformed},
	{name: "HTTP/1.2", in: "HTTP/1.2 200 OK\r\n\r\n", err: ErrRespMalformed},
	{name: "lower-case version", in: "http/1.1 200 OK\r\n\r\n", err: ErrRespMalformed},
	{name: "two-digit status", in: "HTTP/1.1 20 OK\r\n\r\n", err: ErrRespMalformed},
	{name: "four-digit status", in: "HTTP/1.1 2000 OK\r\n\r\n", err: ErrRespMalformed},
	{name: "status below 100", in: "HTTP/1.1 099 Odd\r\n\r\n", err: ErrRespMalformed},
	{name: "letter in status", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: ErrRespMalformed},
	{name: "two spaces after version", in: "HTTP/1.1  200 OK\r\n\r\n", err: ErrRespMalformed},
	{name: "tab after status", in: "HTTP/1.1 200\tOK\r\n\r\n", err: ErrRespMalformed},
	{name: "control character in reason", in: "HTTP/1.1 200 O\x01K\r\n\r\n", err: ErrRespMalformed},
	{name: "CR in reason", in: "HTTP/1.1 200 O\rK\r\n\r\n", err: ErrRespMalformed},
	{name: "obs-fold", in: "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\n\r\n", err: ErrRespMalformed},
	{name: "obs-fold with tab", in: "HTTP/1.1 200 OK\r\nX-A: b\r\n\tc\r\n\r\n", err: ErrRespMalformed},
	{name: "space before colon", in: "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", err: ErrRespMalformed},
	{name: "tab before colon", in: "HTTP/1.1 200 OK\r\nX-A\t: b\r\n\r\n", err: ErrRespMalformed},
	{name: "line without colon", in: "HTTP/1.1 200 OK\r\nX-A b\r\n\r\n", err: ErrRespMalformed},
	{name: "empty field name", in: "HTTP/1.1 200 OK\r\n: b\r\n\r\n", err: ErrRespMalformed},
	{name: "bad byte in name", in: "HTTP/1.1 200 OK\r\nX(A): b\r\n\r\n", err: ErrRespMalformed},
	{name: "NUL in value", in: "HTTP/1.1 200 OK\r\nX-A: b\x00c\r\n\r\n", err: ErrRespMalformed},
	{name: "CR in value", in: "HTTP/1.1 200 OK\r\nX-A: b\rc\r\n\r\n", err: ErrRespMalformed},
	{name: "DEL in value", in: "HTTP/1.1 200 OK\r\nX-A: b\x7f\r\n\r\n", err: ErrRespMalformed},
	{name: "not HTTP", in: "SSH-2.0-OpenSSH\r\n\r\n", err: ErrRespMalformed},
	{name: "leading empty line", in: "\r\nHTTP/1.1 200 OK\r\n\r\n", err: ErrRespMalformed},
}

func TestRespFrameParseHead(t *testing.T) {
	for _, tt := range respHeadTests {
		t.Run(tt.name, func(t *testing.T) {
			var f RespFrame
			f.Reset(tt.head)
			// Trailing bytes (a body) must not be taken for the head.
			in := []byte(tt.in + "BODY")
			n, err := f.ParseHead(in, 0)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParseHead(%q) = %d, %v, want %v", tt.in, n, err, tt.err)
				}
				return
			}
			if err != nil || n != len(tt.in) {
				t.Fatalf("ParseHead(%q) = %d, %v, want %d, nil", tt.in, n, err, len(tt.in))
			}
			if f.Status != tt.status || f.Framing != tt.framing || f.Length != tt.length ||
				f.KeepAlive != tt.keepAlive || f.Interim != tt.interim {
				t.Errorf("ParseHead(%q): status %d framing %v length %d keepAlive %v interim %v, want %d %v %d %v %v",
					tt.in, f.Status, f.Framing, f.Length, f.KeepAlive, f.Interim,
					tt.status, tt.framing, tt.length, tt.keepAlive, tt.interim)
			}
			if got := f.AppendClientHead(nil, in[:n], false); string(got) != tt.client {
				t.Errorf("AppendClientHead(%q) = %q, want %q", tt.in, got, tt.client)
			}
			// The client's head is itself a valid answer head that frames
			// the body the same way (the HTTP/1.0 TE case excepted: its
			// close-delimited bytes keep the upstream's TE).
			if strings.HasPrefix(tt.in, "HTTP/1.0") && strings.Contains(tt.in, "Transfer-Encoding") {
				return
			}
			var g RespFrame
			g.Reset(tt.head)
			client := []byte(tt.client)
			if n, err := g.ParseHead(client, 0); err != nil || n != len(client) ||
				g.Status != f.Status || g.Framing != f.Framing || g.Length != f.Length || g.Interim != f.Interim {
				t.Errorf("client head %q parses as %d, %v, status %d framing %v length %d", client, n, err, g.Status, g.Framing, g.Length)
			}
		})
	}
}

func TestRespFrameClientHeadClose(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n"},
		{"close framing adds one", "HTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"},
		{"interim ignores it", "HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 100 Continue\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f RespFrame
			n, err := f.ParseHead([]byte(tt.in), 0)
			if err != nil || n != len(tt.in) {
				t.Fatalf("ParseHead(%q) = %d, %v", tt.in, n, err)
			}
			dst := []byte("prefix")
			got := f.AppendClientHead(dst, []byte(tt.in), true)
			if string(got) != "prefix"+tt.want {
				t.Errorf("AppendClientHead(%q, true) = %q, want %q", tt.in, got, "prefix"+tt.want)
			}
		})
	}
}

// TestRespFrameHeadIncremental feeds heads one byte more at a time: n stays
// 0 until the empty line, then the result equals the one-shot parse.
func TestRespFrameHeadIncremental(t *testing.T) {
	for _, tt := range respHeadTests {
		t.Run(tt.name, func(t *testing.T) {
			var whole RespFrame
			whole.Reset(tt.head)
			wantN, wantErr := whole.ParseHead([]byte(tt.in), 0)
			var f RespFrame
			f.Reset(tt.head)
			for i := 1; i <= len(tt.in); i++ {
				n, err := f.ParseHead([]byte(tt.in[:i]), 0)
				if err != nil {
					if wantErr == nil {
						t.Fatalf("ParseHead(%q) = %v, want the whole head's nil", tt.in[:i], err)
					}
					return
				}
				if n > 0 {
					if i != len(tt.in) || n != wantN {
						t.Fatalf("ParseHead(%q) = %d after %d bytes, want %d after %d", tt.in[:i], n, i, wantN, len(tt.in))
					}
					f.scan, whole.scan = 0, 0
					if f != whole {
						t.Fatalf("incremental %+v, whole %+v", f, whole)
					}
					return
				}
			}
			if wantErr == nil {
				t.Fatalf("ParseHead(%q) never completed", tt.in)
			}
			t.Fatalf("ParseHead(%q) never failed, want %v", tt.in, wantErr)
		})
	}
}

func TestRespFrameHeadLimit(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", 100) + "\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name  string
		in    string
		limit int
		n     int
		err   error
	}{
		{"fits exactly", head, len(head), len(head), nil},
		{"one over", head, len(head) - 1, 0, ErrRespHeadTooLarge},
		{"no limit", head, 0, len(head), nil},
		{"incomplete under the limit", head[:50], 60, 0, nil},
		{"incomplete at the limit", head[:50], 50, 0, ErrRespHeadTooLarge},
		{"early garbage", "GET / HTTP/1.1\r\n", 1000, 0, ErrRespMalformed},
		{"early garbage, one byte", "\x16", 1000, 0, ErrRespMalformed},
		{"version prefix is enough to wait", "HTTP/1", 1000, 0, nil},
		{"bad line before the end", "HTTP/1.1 200 OK\r\nX y\r\n", 1000, 0, ErrRespMalformed},
		{"101 before the end", "HTTP/1.1 101 Switching Protocols\r\n", 0, 0, ErrRespUpgrade},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f RespFrame
			n, err := f.ParseHead([]byte(tt.in), tt.limit)
			if n != tt.n || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("ParseHead(%q, %d) = %d, %v, want %d, %v", tt.in, tt.limit, n, err, tt.n, tt.err)
			}
		})
	}
}

// TestRespFrameHeadRestart: b shorter than what was parsed starts over.
func TestRespFrameHeadRestart(t *testing.T) {
	var f RespFrame
	f.Reset(false)
	first := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: a-long-name\r\n"
	if n, err := f.ParseHead([]byte(first), 0); n != 0 || err != nil {
		t.Fatalf("ParseHead(%q) = %d, %v", first, n, err)
	}
	second := "HTTP/1.1 204 No Content\r\n\r\n"
	if n, err := f.ParseHead([]byte(second), 0); n != len(second) || err != nil || f.Status != 204 || f.Framing != FramingNone || f.clSeen {
		t.Fatalf("ParseHead(%q) = %d, %v, status %d framing %v", second, n, err, f.Status, f.Framing)
	}
}

// respChunkedBodies are valid chunked bodies; each ends where the answer
// ends.
var respChunkedBodies = []string{
	"0\r\n\r\n",
	"5\r\nhello\r\n0\r\n\r\n",
	"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	"A;name=value;q=\"a b\"\r\n0123456789\r\n0;last\r\n\r\n",
	"a  ;  ext\r\n0123456789\r\n000\r\n\r\n",
	"3\r\nabc\r\n0\r\nExpires: never\r\nX-Checksum: abc\t def\r\n\r\n",
	"3\nabc\n0\nX-T: v\n\n",
	"3\r\na\r\n\r\n0 \r\nX: \r\n\r\n",
	"1f\r\n" + strings.Repeat("x", 31) + "\r\nFF\r\n" + strings.Repeat("y", 255) + "\r\n0\r\n\r\n",
}

// respFeed runs Body over b in the given pieces and returns the bytes
// consumed, whether the answer is done, and the error.
func respFeed(t *testing.T, b []byte, cuts ...int) (int, bool, error) {
	t.Helper()
	var f RespFrame
	if _, err := f.ParseHead([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 0); err != nil {
		t.Fatal(err)
	}
	total, prev := 0, 0
	for _, c := range append(cuts, len(b)) {
		piece := b[prev:c]
		prev = c
		for len(piece) > 0 {
			n, done, err := f.Body(piece)
			if n < 0 || n > len(piece) {
				t.Fatalf("Body consumed %d of %d", n, len(piece))
			}
			total += n
			if err != nil || done {
				return total, done, err
			}
			if n < len(piece) {
				t.Fatalf("Body consumed %d of %d without being done", n, len(piece))
			}
			piece = piece[n:]
		}
	}
	return total, false, nil
}

func TestRespFrameChunkedSplits(t *testing.T) {
	const extra = "HTTP/1.1 200 OK\r\n"
	for _, body := range respChunkedBodies {
		in := []byte(body + extra)
		if n, done, err := respFeed(t, in); n != len(body) || !done || err != nil {
			t.Fatalf("Body(%q) = %d, %v, %v, want %d, true, nil", in, n, done, err, len(body))
		}
		for i := 0; i <= len(in); i++ {
			for j := i; j <= len(in); j++ {
				if n, done, err := respFeed(t, in, i, j); n != len(body) || !done || err != nil {
					t.Fatalf("Body(%q) cut at %d, %d = %d, %v, %v, want %d, true, nil", in, i, j, n, done, err, len(body))
				}
			}
		}
		ones := make([]int, len(in))
		for i := range ones {
			ones[i] = i
		}
		if n, done, err := respFeed(t, in, ones...); n != len(body) || !done || err != nil {
			t.Fatalf("Body(%q) a byte at a time = %d, %v, %v", in, n, done, err)
		}
		// Without its last byte the answer is not done, and nothing fails.
		if n, done, err := respFeed(t, in[:len(body)-1]); n != len(body)-1 || done || err != nil {
			t.Fatalf("Body(%q) = %d, %v, %v, want %d, false, nil", in[:len(body)-1], n, done, err, len(body)-1)
		}
	}
}

func TestRespFrameChunkedErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   int // valid bytes before the bad one
	}{
		{"no digits", "\r\n", 0},
		{"space before size", " 5\r\nhello\r\n", 0},
		{"0x prefix", "0x5\r\nhello\r\n", 1},
		{"sign", "-5\r\n", 0},
		{"junk after size", "5 x\r\nhello\r\n", 2},
		{"CR without LF in size line", "5\rhello\r\n", 2},
		{"control character in extension", "5;a\x01\r\n", 3},
		{"data without CRLF", "5\r\nhelloX\r\n", 8},
		{"data CR without LF", "5\r\nhello\rX", 9},
		{"size over 1<<62", "4000000000000001\r\n", 15},
		{"size overflows int64", "FFFFFFFFFFFFFFFFF\r\n", 15},
		{"size line over 4 KiB", "5;" + strings.Repeat("e", 4095) + "\r\n", 4096},
		{"obs-fold in trailer", "0\r\nA: b\r\n c\r\n\r\n", 9},
		{"space before colon in trailer", "0\r\nA : b\r\n\r\n", 4},
		{"empty trailer name", "0\r\n: b\r\n\r\n", 3},
		{"bad trailer line", "0\r\nA\r\n\r\n", 4},
		{"control character in trailer", "0\r\nA: \x00\r\n\r\n", 6},
		{"CR without LF in trailer", "0\r\nA: b\rc\r\n\r\n", 8},
		{"CR without LF at the end", "0\r\n\rX", 4},
		{"trailer line over 4 KiB", "0\r\nA: " + strings.Repeat("v", 4094) + "\r\n\r\n", 3 + 4096},
		{"trailer section over 16 KiB", "0\r\n" + strings.Repeat("A: "+strings.Repeat("v", 4000)+"\r\n", 4) + "A: " + strings.Repeat("v", 400), 3 + 16<<10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			n, done, err := respFeed(t, in)
			if !errors.Is(err, ErrRespChunk) || done || n != tt.ok {
				t.Fatalf("Body(%q) = %d, %v, %v, want %d, false, %v", rfClip(in), n, done, err, tt.ok, ErrRespChunk)
			}
			ones := make([]int, len(in))
			for i := range ones {
				ones[i] = i
			}
			if n1, done, err1 := respFeed(t, in, ones...); n1 != n || done || !errors.Is(err1, ErrRespChunk) {
				t.Fatalf("Body(%q) a byte at a time = %d, %v, %v, want %d, false, %v", rfClip(in), n1, done, err1, n, err)
			}
		})
	}
}

func TestRespFrameChunkedLimits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		done bool
	}{
		{"size line of 4 KiB", "5;" + strings.Repeat("e", 4094) + "\r\nhello\r\n0\r\n\r\n", true},
		{"size 1<<62", "4000000000000000\r\n", false},
		{"leading zeros", "00000000000000000000005\r\nhello\r\n0\r\n\r\n", true},
		{"trailer line of 4 KiB", "0\r\nA: " + strings.Repeat("v", 4093) + "\r\n\r\n", true},
		{"trailer section of 16 KiB", "0\r\n" + strings.Repeat("A: "+strings.Repeat("v", 4091)+"\r\n", 4) + "\r\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, done, err := respFeed(t, []byte(tt.in))
			if n != len(tt.in) || done != tt.done || err != nil {
				t.Fatalf("Body(%q) = %d, %v, %v, want %d, %v, nil", rfClip([]byte(tt.in)), n, done, err, len(tt.in), tt.done)
			}
		})
	}
}

func TestRespFrameBodyFramings(t *testing.T) {
	tests := []struct {
		name   string
		head   string
		isHead bool
		body   string
		n      int
		done   bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, "helloHTTP/1.1", 5, true},
		{"length short", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, "hel", 3, false},
		{"length zero", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, "x", 0, true},
		{"none for HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, "hello", 0, true},
		{"none for 204", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false, "hello", 0, true},
		{"close", "HTTP/1.1 200 OK\r\n\r\n", false, "hello0\r\n\r\n", 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f RespFrame
			f.Reset(tt.isHead)
			if _, err := f.ParseHead([]byte(tt.head), 0); err != nil {
				t.Fatal(err)
			}
			if n, done, err := f.Body([]byte(tt.body)); n != tt.n || done != tt.done || err != nil {
				t.Fatalf("Body(%q) = %d, %v, %v, want %d, %v, nil", tt.body, n, done, err, tt.n, tt.done)
			}
		})
	}
	// Length counts down across calls, and stays done.
	var f RespFrame
	if _, err := f.ParseHead([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"), 0); err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, piece := range []string{"0123", "", "456", "789next"} {
		n, done, err := f.Body([]byte(piece))
		if err != nil {
			t.Fatal(err)
		}
		got += n
		if done != (got == 10) {
			t.Fatalf("after %d bytes done = %v", got, done)
		}
	}
	if n, done, _ := f.Body([]byte("more")); got != 10 || n != 0 || !done {
		t.Fatalf("consumed %d, then Body after the end = %d, %v", got, n, done)
	}
}

// respChunkedBody encodes data as a chunked body in random chunk sizes,
// with random extensions, hex case and trailers.
func respChunkedBody(r *rand.Rand, data []byte) []byte {
	var b []byte
	for len(data) > 0 {
		size := min(len(data), 1+r.IntN(300))
		hex := strconv.FormatInt(int64(size), 16)
		if r.IntN(2) == 0 {
			hex = strings.ToUpper(hex)
		}
		b = append(b, strings.Repeat("0", r.IntN(3))+hex...)
		for range r.IntN(3) {
			b = append(b, ";ext"+strconv.Itoa(r.IntN(100))...)
			if r.IntN(2) == 0 {
				b = append(b, `="quoted; value"`...)
			}
		}
		b = append(b, "\r\n"...)
		b = append(b, data[:size]...)
		b = append(b, "\r\n"...)
		data = data[size:]
	}
	b = append(b, "0\r\n"...)
	for i := range r.IntN(4) {
		b = append(b, fmt.Sprintf("X-Trailer-%d: value %d\r\n", i, r.IntN(1000))...)
	}
	return append(b, "\r\n"...)
}

// TestRespFrameChunkedStdlib checks Body against net/http's chunked
// reader and trailer parsing: on generated valid bodies both end at the
// same byte.
func TestRespFrameChunkedStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		data := make([]byte, r.IntN(4000))
		for j := range data {
			data[j] = byte(r.UintN(256))
		}
		body := respChunkedBody(r, data)
		in := append(append([]byte(nil), body...), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"...)

		src := bytes.NewReader(in)
		br := bufio.NewReaderSize(src, 128)
		decoded, err := io.ReadAll(httputil.NewChunkedReader(br))
		if err != nil {
			t.Fatalf("body %d: chunked reader: %v", i, err)
		}
		if _, err := textproto.NewReader(br).ReadMIMEHeader(); err != nil {
			t.Fatalf("body %d: trailer: %v", i, err)
		}
		stdEnd := len(in) - src.Len() - br.Buffered()
		if !bytes.Equal(decoded, data) {
			t.Fatalf("body %d: stdlib decoded %d bytes, want %d", i, len(decoded), len(data))
		}

		cuts := make([]int, r.IntN(20))
		for k := range cuts {
			cuts[k] = r.IntN(len(in) + 1)
		}
		slices.Sort(cuts)
		n, done, err := respFeed(t, in, cuts...)
		if n != stdEnd || !done || err != nil {
			t.Fatalf("body %d: Body = %d, %v, %v; net/http ends at %d", i, n, done, err, stdEnd)
		}
	}
}

// TestRespFrameNetHTTPUpstream frames what a real net/http server sends on
// one kept-alive connection (Content-Length, chunked with trailers, HEAD,
// 204, 304, 1xx) and checks each answer's end against net/http's client.
func TestRespFrameNetHTTPUpstream(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/cl", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "5")
		_, _ = io.WriteString(w, "hello")
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		for i := range 3 {
			_, _ = fmt.Fprintf(w, "part %d;", i)
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Sum", "42")
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("/notmodified", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(304) })
	mux.HandleFunc("/hints", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(103)
		_, _ = io.WriteString(w, "after hints")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	reqs := []struct {
		method, path string
		answers      int // 1 + interim answers
	}{
		{"GET", "/cl", 1}, {"GET", "/chunked", 1}, {"HEAD", "/cl", 1}, {"HEAD", "/chunked", 1},
		{"GET", "/nocontent", 1}, {"GET", "/notmodified", 1}, {"GET", "/hints", 2}, {"GET", "/cl", 1},
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var raw []byte
	for i, rq := range reqs {
		hdr := ""
		if i == len(reqs)-1 {
			hdr = "Connection: close\r\n"
		}
		if _, err := fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: up\r\n%s\r\n", rq.method, rq.path, hdr); err != nil {
			t.Fatal(err)
		}
	}
	raw, err = io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}

	// net/http's client reading the same bytes gives each answer's end.
	src := bytes.NewReader(raw)
	br := bufio.NewReader(src)
	var f RespFrame
	pos := 0
	for _, rq := range reqs {
		for a := range rq.answers {
			resp, err := http.ReadResponse(br, &http.Request{Method: rq.method})
			if err != nil {
				t.Fatalf("%s %s: net/http: %v", rq.method, rq.path, err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatalf("%s %s: net/http body: %v", rq.method, rq.path, err)
			}
			stdEnd := len(raw) - src.Len() - br.Buffered()

			f.Reset(rq.method == "HEAD")
			n, err := f.ParseHead(raw[pos:], 8<<10)
			if err != nil || n == 0 {
				t.Fatalf("%s %s: ParseHead(%q) = %d, %v", rq.method, rq.path, raw[pos:], n, err)
			}
			if f.Status != resp.StatusCode || f.Interim != (a < rq.answers-1) {
				t.Fatalf("%s %s: status %d interim %v, net/http %d", rq.method, rq.path, f.Status, f.Interim, resp.StatusCode)
			}
			client := f.AppendClientHead(nil, raw[pos:pos+n], false)
			if _, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(client)), &http.Request{Method: "HEAD"}); err != nil {
				t.Fatalf("%s %s: client head %q: %v", rq.method, rq.path, client, err)
			}
			pos += n
			bn, done, err := f.Body(raw[pos:])
			pos += bn
			if err != nil || !done || pos != stdEnd {
				t.Fatalf("%s %s: Body = %d, %v, %v: answer ends at %d, net/http %d", rq.method, rq.path, bn, done, err, pos, stdEnd)
			}
			if f.KeepAlive == resp.Close && !f.Interim {
				t.Errorf("%s %s: KeepAlive %v, net/http Close %v", rq.method, rq.path, f.KeepAlive, resp.Close)
			}
		}
	}
	if pos != len(raw) {
		t.Fatalf("framed %d of %d bytes", pos, len(raw))
	}
}

// respTypical is a typical upstream answer: 10 header fields and 1 KiB.
var respTypical = []byte("HTTP/1.1 200 OK\r\n" +
	"Date: Mon, 23 Nov 2026 06:00:00 GMT\r\n" +
	"Server: upstream/1.0\r\n" +
	"Content-Type: application/json\r\n" +
	"Content-Length: 1024\r\n" +
	"Cache-Control: no-store\r\n" +
	"ETag: \"5e1-abc\"\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"X-Request-Id: 0123456789abcdef\r\n" +
	"Connection: keep-alive\r\n" +
	"Keep-Alive: timeout=5\r\n" +
	"\r\n" + strings.Repeat("x", 1024))

// respTypicalChunked is the same answer with a chunked body in 4 chunks
// and a trailer.
var respTypicalChunked = []byte("HTTP/1.1 200 OK\r\n" +
	"Date: Mon, 23 Nov 2026 06:00:00 GMT\r\n" +
	"Server: upstream/1.0\r\n" +
	"Content-Type: application/json\r\n" +
	"Transfer-Encoding: chunked\r\n" +
	"Trailer: X-Sum\r\n" +
	"\r\n" + strings.Repeat("100;e=1\r\n"+strings.Repeat("y", 256)+"\r\n", 4) + "0\r\nX-Sum: 1\r\n\r\n")

// respFrameAll parses, rewrites and frames one whole answer.
func respFrameAll(f *RespFrame, in, dst []byte) ([]byte, error) {
	f.Reset(false)
	n, err := f.ParseHead(in, 8<<10)
	if err != nil {
		return dst, err
	}
	dst = f.AppendClientHead(dst[:0], in[:n], false)
	bn, done, err := f.Body(in[n:])
	if err != nil || !done || n+bn != len(in) {
		return dst, fmt.Errorf("body: %d, %v, %v", bn, done, err)
	}
	return dst, nil
}

func TestRespFrameAllocs(t *testing.T) {
	for _, in := range [][]byte{respTypical, respTypicalChunked} {
		var f RespFrame
		dst, err := respFrameAll(&f, in, make([]byte, 0, 1024))
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(200, func() { dst, err = respFrameAll(&f, in, dst) }); n != 0 || err != nil {
			t.Errorf("%d allocations per answer (%v), want 0", int(n), err)
		}
	}
}

// RespSink keeps benchmark results alive.
var RespSink []byte

func BenchmarkRespFrame(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   []byte
	}{{"length", respTypical}, {"chunked", respTypicalChunked}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			var f RespFrame
			dst := make([]byte, 0, 1024)
			var err error
			for b.Loop() {
				if dst, err = respFrameAll(&f, bc.in, dst); err != nil {
					b.Fatal(err)
				}
			}
			RespSink = dst
		})
	}
}
