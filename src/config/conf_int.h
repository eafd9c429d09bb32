/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * What the files of src/config/ share and nobody else sees: the model's
 * constructors that the parser builds a struct conf with (model.c).
 */
#ifndef IETD_CONFIG_CONF_INT_H
#define IETD_CONFIG_CONF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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

/* portal.c */
/*
 * Parse a PortalGroup line: global (t == NULL) or of target t. false
 * with one sentence in why when it is wrong.
 */
bool conf_portal_parse(struct conf *conf, struct conf_target *t, char **tok,
    int ntok, unsigned int line, char *why, size_t whylen);
/*
 * Checks that need the whole file: a target's PortalGroup names a group
 * that exists. Calls bad(arg, line, message) for each error.
 */
void conf_portal_check(const struct conf *conf,
    void (*bad)(void *arg, unsigned int line, const char *msg), void *arg);
void conf_portal_groups_free(struct list_node *head);
void conf_tpgs_free(struct list_node *head);
int conf_tpgs_copy(struct list_node *dst, const struct list_node *src);
void conf_portal_write(const struct conf *conf, FILE *f);
void conf_tpgs_write(const struct conf_target *t, FILE *f);

#endif /* IETD_CONFIG_CONF_INT_H */
