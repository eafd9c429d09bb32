#!/bin/bash
# SPDX-License-Identifier: ISC
# Each module may include only its own headers and those of the modules
# below it (style.md). Prints every violation; exits 1 when there is one.
set -u
cd "$(dirname "$0")/.."
declare -A allowed=(
	[util]="util"
	[config]="config util"
	[net]="net util"
	[backend]="backend util"
	[scsi]="scsi backend util"
	[target]="target scsi backend config util"
	[iscsi]="iscsi target scsi backend config net util"
	[ctl]="ctl iscsi target scsi backend config net util"
	[ietd]="ietd ctl iscsi target scsi backend config net util"
	[ietadm]="ietadm ctl util"
)
bad=0
for f in src/*/*.[ch]; do
	mod=$(basename "$(dirname "$f")")
	while IFS= read -r inc; do
		case $inc in */*) dep=${inc%%/*} ;; *) dep=$mod ;; esac
		if [[ " ${allowed[$mod]} " != *" $dep "* ]]; then
			echo "$f: includes \"$inc\" ($mod may not use $dep)"
			bad=1
		fi
	done < <(sed -n 's/^#include "\(.*\)"/\1/p' "$f")
done
# ietadm talks to the daemon only through the control protocol header.
if grep -l '#include "ctl/' src/ietadm/*.c 2>/dev/null | xargs -r grep -h '#include "ctl/' | grep -v ctl_proto.h; then
	echo "src/ietadm: only ctl/ctl_proto.h may be included from ctl"
	bad=1
fi
exit $bad
