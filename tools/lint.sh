#!/bin/bash
# SPDX-License-Identifier: ISC
# make lint: layering, header shape, static analysis, man pages and
# formatting, each step naming the file and the rule it breaks.
set -u
cd "$(dirname "$0")/.."
rc=0
step() { echo "== $1"; shift; "$@" || rc=1; }
# tools/layers.txt: includes and identifiers across modules, private
# *_int.h; guards wrapping each whole header; headers that include what
# they do not use (so that their users get it). tools/check-source.py
# says more, and has the on-demand rules "iwyu" and "unused".
step "layers, guards, reexport" tools/check-source.py layers guards reexport
step "headers" tools/check-headers.sh
step "mandoc" bash -c 'out=$(mandoc -Tlint -W warning doc/*.[0-9] 2>&1); [ -z "$out" ] || { echo "$out"; false; }'
# cppcheck: warning (undefined behaviour, leaks, misuse of the C and
# POSIX libraries), style (dead code, redundant conditions, scopes),
# performance and portability, for the build's one configuration
# (_GNU_SOURCE, src/ on the include path). posix.cfg knows the POSIX
# calls (file descriptors, non-reentrant functions: ietd has threads);
# tools/cppcheck.cfg corrects it; tools/cppcheck.supp holds the few
# suppressions, each with its reason. Not --inconclusive (guesses).
step "cppcheck" cppcheck -q --enable=warning,style,performance,portability \
	--std=c11 --library=posix --library=tools/cppcheck.cfg \
	--suppressions-list=tools/cppcheck.supp --inline-suppr \
	--error-exitcode=1 -D_GNU_SOURCE -Isrc \
	--suppress=missingIncludeSystem src
if command -v clang-format >/dev/null; then
	step "clang-format" clang-format --dry-run -Werror $(git ls-files 'src/*.[ch]')
fi
exit $rc
