#!/bin/bash
# SPDX-License-Identifier: ISC
# Every header compiles on its own and has the IETD_<MOD>_<FILE>_H guard.
set -u
cd "$(dirname "$0")/.."
bad=0
flags="-std=gnu11 -D_GNU_SOURCE -Isrc $(pkg-config --cflags libisal liburing libcrypto 2>/dev/null)"
for h in src/*/*.h; do
	mod=$(basename "$(dirname "$h")")
	base=$(basename "$h" .h)
	guard="IETD_$(echo "${mod}_${base}" | tr 'a-z-' 'A-Z_')_H"
	grep -q "#ifndef $guard" "$h" || { echo "$h: guard should be $guard"; bad=1; }
	echo "#include \"$h\"" | ${CC:-cc} $flags -I. -fsyntax-only -x c - 2>&1 |
		sed "s|^|$h: |" | grep . && bad=1
done
exit $bad
