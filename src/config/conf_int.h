/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * What the files of src/config/ share and nobody else sees: the model's
 * constructors that the parser builds a struct conf with (model.c).
 */
#ifndef IETD_CONFIG_CONF_INT_H
#define IETD_CONFIG_CONF_INT_H

#include <stdbool.h>

#include "conf.h"

/* An empty conf with its lists ready; NULL on allocation failure. */
struct conf *conf_new(void);
/* A target holding every key's default; NULL on allocation failure. */
struct conf_target *conf_target_new(void);
/* An account with copies of user and secret; NULL on allocation failure. */
struct conf_account *conf_account_new(const char *user, const char *secret);
/* The account of head (a list of struct conf_account) named user, or NULL. */
struct conf_account *conf_account_find(struct list_node *head,
    const char *user);
/* Free a LUN that is on no list (NULL is ignored). */
void conf_lun_free(struct conf_lun *l);
/*
 * mem_strdup that keeps NULL as NULL; sets *fail when a copy failed
 * (*fail is never cleared, so one check covers several copies).
 */
char *conf_strdup_opt(const char *s, bool *fail);

#endif /* IETD_CONFIG_CONF_INT_H */
