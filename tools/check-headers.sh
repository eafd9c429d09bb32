#!/bin/bash
# SPDX-License-Identifier: ISC
# Every header compiles on its own (its guard: tools/check-source.py guards).
set -u
cd "$(dirname "$0")/.."
bad=0
flags="-std=gnu11 -D_GNU_SOURCE -Isrc $(pkg-config --cflags libisal liburing libcrypto 2>/dev/null)"
for h in src/*/*.h; do
	echo "#include \"$h\"" | ${CC:-cc} $flags -I. -fsyntax-only -x c - 2>&1 |
		sed "s|^|$h: |" | grep . && bad=1
done
exit $bad
