package tcpsig

//go:generate go tool bpf2go -cc clang-14 -tags linux -target bpfel -type record -type tuple tcpsig sockops.c -- -I../headers -O2 -g -Wall -Werror
