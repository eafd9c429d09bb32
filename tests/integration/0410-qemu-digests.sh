#!/bin/bash
# SPDX-License-Identifier: ISC
# QEMU's iscsi driver (libiscsi inside qemu-img) writes a 64 MiB random
# file onto a LUN and reads it back, compared byte for byte: with header
# digests offered by the initiator, with CHAP, and against a target that
# allows only CRC32C digests.
. "$(dirname "$0")/lib.sh"

SIZE=64M
img1=$(make_image plain.img $SIZE)
img2=$(make_image chap.img $SIZE)
img3=$(make_image crc.img $SIZE)
img4=$(make_image dd.img $SIZE)
cat > "$T/ietd.conf" <<CONF
Target $IQN_BASE:plain
	HeaderDigest None,CRC32C
	Lun 0 Path=$img1
Target $IQN_BASE:chap
	IncomingUser joe joesecret1234
	HeaderDigest None,CRC32C
	Lun 0 Path=$img2
Target $IQN_BASE:crc
	HeaderDigest CRC32C
	Lun 0 Path=$img3
Target $IQN_BASE:dd
	HeaderDigest CRC32C
	DataDigest CRC32C
	Lun 0 Path=$img4
CONF
ietd_start -d 1 || { not_ok start; finish; exit 1; }
head -c $SIZE /dev/urandom > "$T/src.bin"

opts() { # opts TARGET-SUFFIX [extra options]
	local o="driver=iscsi,transport=tcp,portal=127.0.0.1:$PORT"
	o="$o,target=$IQN_BASE:$1,lun=0"
	shift
	for x in "$@"; do o="$o,$x"; done
	echo "$o"
}
# roundtrip NAME TARGET [options]: write src.bin, read it back, cmp, and
# check the backing file too.
roundtrip() {
	local name=$1 tgt=$2 back=$T/back-$1.bin
	shift 2
	rm -f "$back"
	check "$name: write 64 MiB" qemu-img convert -n -f raw "$T/src.bin" \
		--target-image-opts "$(opts "$tgt" "$@")"
	check "$name: read 64 MiB back" qemu-img convert -O raw \
		--image-opts "$(opts "$tgt" "$@")" "$back"
	check "$name: read data identical" cmp "$T/src.bin" "$back"
	check "$name: backing file identical" cmp "$T/src.bin" "$T/$tgt.img"
}

roundtrip hdigest plain header-digest=crc32c
# -d 1 logs what each login negotiated: two sessions, both with CRC32C.
check "hdigest: CRC32C in force" test "$(grep -c \
	'full feature phase: HeaderDigest=CRC32C DataDigest=None' "$IETD_LOG")" = 2
check "hdigest: no session without it" bash -c \
	"! grep -q 'full feature phase: HeaderDigest=None' '$IETD_LOG'"
roundtrip chap chap header-digest=crc32c user=joe password=joesecret1234
check "chap: wrong password refused" bash -c "! qemu-img info --image-opts \
	'$(opts chap user=joe password=wrongsecret123)' >/dev/null 2>&1"
check "chap: no password refused" bash -c "! qemu-img info --image-opts \
	'$(opts chap)' >/dev/null 2>&1"
# Target wants CRC32C only: QEMU's header-digest=crc32c is accepted.
roundtrip crc crc header-digest=crc32c
check "crc: CRC32C in force in all 6 sessions" test "$(grep -c \
	'full feature phase: HeaderDigest=CRC32C DataDigest=None' "$IETD_LOG")" = 6
# An initiator that insists on no header digest cannot log in there.
check "crc: header-digest=none refused" bash -c "! qemu-img info --image-opts \
	'$(opts crc header-digest=none)' >/dev/null 2>&1"
check "crc: header-digest=none refusal logged" grep -q \
	"failed: digest required by the target not negotiated (0x0200)" "$IETD_LOG"
check "dd: DataDigest CRC32C only, libiscsi (no data digest) refused" \
	bash -c "! qemu-img info --image-opts \
	'$(opts dd header-digest=crc32c)' >/dev/null 2>&1"
check "dd: backing file untouched" cmp "$T/dd.img" <(head -c $SIZE /dev/zero)
check "no digest errors logged" bash -c "! grep -q 'digest error' '$IETD_LOG'"
ietd_stop; rc=$?
[ $rc -eq 0 ] && ok "exit 0" || not_ok "exit 0" "$rc"
finish
