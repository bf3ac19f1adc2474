package tlshello_test

import (
	"fmt"
	"os"

	"github.com/brink-edge/brink/proto/tlshello"
)

func ExampleHello_Parse() {
	// The first bytes curl sent on a connection, arriving in two reads.
	conn, err := os.ReadFile("testdata/curl.hello")
	if err != nil {
		panic(err)
	}
	var h tlshello.Hello
	fmt.Println(h.Parse(conn[:100]))
	if err := h.Parse(conn); err != nil {
		panic(err)
	}
	fmt.Printf("sni=%s alpn=%s,%s len=%d\n", h.ServerName(), h.ALPN(0), h.ALPN(1), h.Len())
	fmt.Printf("ja4=%s\n", h.AppendJA4(nil))
	fmt.Printf("ja3=%s\n", h.AppendJA3(nil))
	// Output:
	// tlshello: incomplete ClientHello, need more bytes
	// sni=brink.test alpn=h2,http/1.1 len=517
	// ja4=t13d3112h2_e8f1e7e78f70_b26ce05bbdd6
	// ja3=0149f47eabf9a20d0893e2a44e5a6323
}
