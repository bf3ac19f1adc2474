package tcpsig

//go:generate go tool bpf2go -cc clang-14 -tags linux -target bpfel -type record -type tuple -type slot tcpsig sockops.c -- -I../headers -O2 -g -mcpu=v3 -Wall -Werror
