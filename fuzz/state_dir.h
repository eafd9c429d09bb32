/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * A scratch --state-dir for the fuzz targets that run SCSI commands: a
 * PERSISTENT RESERVE OUT with APTPL writes the LU's state file there,
 * and the default (/var/lib/ietd) would put fuzz state on the host and
 * load it back into the next run. Made before the first LU, emptied and
 * removed at exit. Header-only (static), included once per target.
 */
#ifndef IETD_FUZZ_STATE_DIR_H
#define IETD_FUZZ_STATE_DIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "scsi/scsi.h"

static char fuzz_state_dir[64];

static void
fuzz_state_dir_cleanup(void)
{
	char path[128];
	struct dirent *e;
	DIR *d = opendir(fuzz_state_dir);

	if (d != NULL) {
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.' &&
			    snprintf(path, sizeof(path), "%s/%s",
				fuzz_state_dir, e->d_name) < (int)sizeof(path))
				unlink(path);
		closedir(d);
	}
	rmdir(fuzz_state_dir);
}

static int
fuzz_state_dir_init(void)
{
	snprintf(fuzz_state_dir, sizeof(fuzz_state_dir),
	    "/dev/shm/fuzz_state.XXXXXX");
	if (mkdtemp(fuzz_state_dir) == NULL) {
		snprintf(fuzz_state_dir, sizeof(fuzz_state_dir),
		    "/tmp/fuzz_state.XXXXXX");
		if (mkdtemp(fuzz_state_dir) == NULL)
			return -1;
	}
	atexit(fuzz_state_dir_cleanup);
	return scsi_pr_store_set_dir(fuzz_state_dir);
}

#endif /* IETD_FUZZ_STATE_DIR_H */
