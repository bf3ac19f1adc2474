//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package tcpsig

import (
	"testing"
	"unsafe"
)

// TestRecordLayout keeps record.go's offsets in step with struct record in
// sockops.c, through the type bpf2go generated from the object's BTF.
func TestRecordLayout(t *testing.T) {
	var r tcpsigRecord
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"size", unsafe.Sizeof(r), recordSize},
		{"syn_ns", unsafe.Offsetof(r.SynNs), offSYNNs},
		{"synack_ns", unsafe.Offsetof(r.SynackNs), offSYNACKNs},
		{"synack_last_ns", unsafe.Offsetof(r.SynackLastNs), offSYNACKLastNs},
		{"ack_ns", unsafe.Offsetof(r.AckNs), offACKNs},
		{"srtt_us", unsafe.Offsetof(r.SrttUs), offSRTT},
		{"mdev_us", unsafe.Offsetof(r.MdevUs), offMdev},
		{"rtt_min_us", unsafe.Offsetof(r.RttMinUs), offRTTMin},
		{"mss", unsafe.Offsetof(r.Mss), offMSS},
		{"total_retrans", unsafe.Offsetof(r.TotalRetrans), offTotalRetrans},
		{"synacks", unsafe.Offsetof(r.Synacks), offSYNACKs},
		{"version", unsafe.Offsetof(r.Version), offVersion},
		{"flags", unsafe.Offsetof(r.Flags), offFlags},
		{"syn_len", unsafe.Offsetof(r.SynLen), offSYNLen},
		{"syn", unsafe.Offsetof(r.Syn), offSYN},
		{"len(syn)", uintptr(len(r.Syn)), synMax},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("struct record %s = %d in the object, %d in record.go", tt.name, tt.got, tt.want)
		}
	}
}
