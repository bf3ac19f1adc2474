/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * brink's minimal linux/types.h for the bpf target: just the typedefs that
 * the vendored linux/bpf.h and libbpf's bpf_helper_defs.h use, so compiling
 * with -target bpf needs no host <asm/types.h>. Not from the kernel tree.
 */
#ifndef __BRINK_LINUX_TYPES_H
#define __BRINK_LINUX_TYPES_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;

typedef __u16 __le16;
typedef __u16 __be16;
typedef __u32 __le32;
typedef __u32 __be32;
typedef __u64 __le64;
typedef __u64 __be64;
typedef __u16 __sum16;
typedef __u32 __wsum;

#define __aligned_u64 __u64 __attribute__((aligned(8)))

#endif /* __BRINK_LINUX_TYPES_H */
