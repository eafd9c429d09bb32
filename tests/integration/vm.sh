# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The ietd authors
# What the tests that use the Linux kernel initiator VM (tests/vm/) share;
# sourced after lib.sh.

VM=$(cd "$(dirname "$0")/../vm" && pwd)

# vm_plain_build_only WHAT: end the test (as passed) when $IETD is the
# sanitizer build. For the VM scenarios whose ietd code paths the
# sanitizer run already covers through libiscsi tests on the host: under
# QEMU without KVM each costs minutes, and .ci/run must stay under 40.
vm_plain_build_only() {
	if grep -q __asan_init "$IETD" 2>/dev/null; then
		echo "SKIP under the sanitizers: $1"
		exit 0
	fi
}

# vm_build: build the kernel and initramfs (or find them in the cache)
# before ietd starts, so that a missing package is a clean skip (exit 0)
# and not a failure, and so that the build time is not counted against
# the VM's timeout. A failed build ends the test as a failure.
vm_build() {
	local rc

	"$VM/build.sh" >"$T/build.out" 2>&1
	rc=$?
	if [ $rc -eq 77 ]; then
		echo "SKIP: the initiator VM cannot be built here:"
		sed 's/^/    /' "$T/build.out"
		exit 0
	elif [ $rc -ne 0 ]; then
		not_ok "build the initiator VM" "$(tail -n 5 "$T/build.out")"
		finish
		exit 1
	fi
}

# vm_results NAME FILE: the guest's "ok - STEP" and "not ok - STEP -- WHY"
# lines in the console log FILE become this test's results "NAME: STEP";
# its "# " comments (what it found, why a step failed) are shown as they
# are. VM_STEPS is set to the number of results.
vm_results() {
	local line rest

	VM_STEPS=0
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		"ok - "*)
			VM_STEPS=$((VM_STEPS + 1))
			ok "$1: ${line#ok - }"
			;;
		"not ok - "*)
			VM_STEPS=$((VM_STEPS + 1))
			rest=${line#not ok - }
			case $rest in
			*" -- "*) not_ok "$1: ${rest%% -- *}" "${rest#* -- }" ;;
			*) not_ok "$1: $rest" ;;
			esac
			;;
		"# "*) echo "$line" ;;
		esac
	done <"$2"
}
