/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * libFuzzer target for the ietd.conf reader: any input must load or be
 * refused with reported errors, never crash, leak or read outside the
 * input. What loads is written back out (ietadm's dump) and that text
 * must load again without an error and write out the same. The access
 * files have their own target, fuzz_allow.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_conf_report(void *arg, const char *msg)
{
	size_t *count = arg;

	(*count)++;
	(void)msg;
}

/* conf as ietd.conf text in a buffer the caller frees; NULL on failure. */
static char *
fuzz_conf_text(const struct conf *conf, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (f == NULL)
		return NULL;
	conf_write(conf, f, true);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t errors = 0, len1, len2;
	struct conf *conf, *again;
	char *text1, *text2;

	conf = conf_load_buf("fuzz.conf", (const char *)data, size,
	    fuzz_conf_report, &errors);
	if (conf == NULL)
		return 0;
	text1 = fuzz_conf_text(conf, &len1);
	conf_free(conf);
	if (text1 == NULL)
		return 0;
	errors = 0;
	again =
	    conf_load_buf("dump.conf", text1, len1, fuzz_conf_report, &errors);
	if (again == NULL || errors != 0) {
		fprintf(stderr, "the dump does not load back:\n%.*s\n",
		    (int)len1, text1);
		abort();
	}
	text2 = fuzz_conf_text(again, &len2);
	conf_free(again);
	if (text2 != NULL &&
	    (len1 != len2 || memcmp(text1, text2, len1) != 0)) {
		fprintf(stderr,
		    "the dump changes when reloaded:\n%.*s\n--\n"
		    "%.*s\n",
		    (int)len1, text1, (int)len2, text2);
		abort();
	}
	free(text1);
	free(text2);
	return 0;
}
