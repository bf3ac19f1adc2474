//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package tcpsig

// What the kernel tests call on a big-endian Linux, where no object is
// shipped and Open always fails.

func (*Capture) instrumented(int) bool { return false }

func probe() error { return ErrUnimplemented }
