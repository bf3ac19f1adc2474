package connsig_test

import (
	"encoding/hex"
	"fmt"

	"github.com/brink-edge/brink/connsig"
)

func ExampleParseSYN() {
	// A SYN as TCP_SAVED_SYN returns it: Linux over loopback.
	pkt, _ := hex.DecodeString("4500003c23a74000400619137f0000017f00000181289f23d920404300000000" +
		"a002ffd7fe3000000204ffd70402080a044c6c71000000000103030a")
	var s connsig.Signal
	s.Reset()
	if err := connsig.ParseSYN(pkt, &s); err != nil {
		panic(err)
	}
	s.SYNSource = connsig.SourceFallback
	fmt.Printf("ttl %d, window %d, options %v\n", s.TTL, s.Window, s.Options[:s.NumOptions])
	fmt.Printf("%s\n", s.AppendFingerprint(nil))
	v, _ := s.AppendValue(nil, connsig.PropSYNMSS)
	fmt.Printf("synMss=%s\n", v)
	// Output:
	// ttl 64, window 65495, options [2 4 8 1 3]
	// b1_4d_64_2.4.8.1.3_65495_10_m1
	// synMss=65495
}
