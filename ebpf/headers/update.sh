#!/usr/bin/env bash
# update.sh refreshes the vendored BPF headers from the Debian packages that
# scripts/install-bpf-deps.sh installs, then prints their versions for the
# commit message. Run it from anywhere; review the diff before committing.
#
#   bpf_helpers.h bpf_helper_defs.h bpf_endian.h   libbpf-dev  (LGPL-2.1 OR BSD-2-Clause;
#                                                   we use them under BSD-2-Clause, LICENSE.BSD-2-Clause)
#   linux/bpf.h linux/bpf_common.h                 linux-libc-dev (GPL-2.0 WITH Linux-syscall-note,
#                                                   LICENSE.GPL-2.0 + LICENSE.Linux-syscall-note)
#
# linux/types.h is ours (the few typedefs linux/bpf.h needs on the bpf target,
# so the build needs no host asm/ headers) and is not touched here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../scripts/install-bpf-deps.sh"

for f in bpf_helpers.h bpf_helper_defs.h bpf_endian.h; do
	cp /usr/include/bpf/$f "$here/$f"
done
for f in bpf.h bpf_common.h; do
	cp /usr/include/linux/$f "$here/linux/$f"
done
cp /usr/share/common-licenses/GPL-2 "$here/LICENSE.GPL-2.0"
chmod 0644 "$here"/*.h "$here"/linux/*.h "$here/LICENSE.GPL-2.0"
echo "libbpf-dev $(dpkg-query -W -f='${Version}' libbpf-dev), linux-libc-dev $(dpkg-query -W -f='${Version}' linux-libc-dev)"
