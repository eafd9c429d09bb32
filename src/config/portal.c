/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * ietd's ALUA extension of ietd.conf: portal groups and the asymmetric
 * access state of each target on each of them.
 *
 *   PortalGroup 2 192.0.2.10:3260 [2001:db8::10]:3260   (before any Target)
 *   Target iqn.2026-01.org.example:disk
 *       PortalGroup 1 optimized
 *       PortalGroup 2 standby
 *
 * A file without any PortalGroup line is a plain IET file: one group
 * (tag 1, the -a/-p listener), every target active/optimized on it, and
 * ietd answers as it always did (no TPGS in INQUIRY, no REPORT TARGET
 * PORT GROUPS). A target without PortalGroup lines is offered on every
 * portal group, active/optimized; one with them only on those it names.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/str.h"
#include "conf.h"
#include "conf_int.h"

/*
 * A struct conf or conf_target built by hand (unit tests) before these
 * lists existed leaves them zeroed: read such a list as empty.
 */
static bool
conf_list_ready(const struct list_node *head)
{
	return head->next != NULL;
}

static const char *const conf_alua_names[] = {
    [CONF_ALUA_OPTIMIZED] = "optimized",
    [CONF_ALUA_NONOPTIMIZED] = "nonoptimized",
    [CONF_ALUA_STANDBY] = "standby",
    [CONF_ALUA_UNAVAILABLE] = "unavailable",
};

const char *
conf_alua_state_name(enum conf_alua_state s)
{
	if ((unsigned int)s <
	    sizeof(conf_alua_names) / sizeof(*conf_alua_names))
		return conf_alua_names[s];
	return "?";
}

int
conf_alua_state_parse(const char *s, enum conf_alua_state *out)
{
	for (unsigned int i = 0;
	     i < sizeof(conf_alua_names) / sizeof(*conf_alua_names); i++)
		if (strcasecmp(s, conf_alua_names[i]) == 0) {
			*out = (enum conf_alua_state)i;
			return 0;
		}
	return -EINVAL;
}

struct conf *
conf_new_empty(void)
{
	return conf_new();
}

const struct conf_portal_group *
conf_portal_group_find(const struct conf *conf, unsigned int tag)
{
	const struct list_node *n;

	if (!conf_list_ready(&conf->portal_groups))
		return NULL;
	list_for_each(n, &conf->portal_groups) {
		const struct conf_portal_group *g =
		    list_entry(n, const struct conf_portal_group, node);

		if (g->tag == tag)
			return g;
	}
	return NULL;
}

struct conf_tpg *
conf_tpg_find(const struct conf_target *t, unsigned int tag)
{
	const struct list_node *n;

	if (!conf_list_ready(&t->tpgs))
		return NULL;
	list_for_each(n, &t->tpgs) {
		struct conf_tpg *g = list_entry(n, struct conf_tpg, node);

		if (g->tag == tag)
			return g;
	}
	return NULL;
}

bool
conf_alua_enabled(const struct conf *conf)
{
	const struct list_node *n;

	if (conf_list_ready(&conf->portal_groups) &&
	    !list_empty(&conf->portal_groups))
		return true;
	list_for_each(n, &conf->targets) {
		const struct conf_target *t =
		    list_entry(n, const struct conf_target, node);

		if (conf_list_ready(&t->tpgs) && !list_empty(&t->tpgs))
			return true;
	}
	return false;
}

static void
conf_portal_group_free(struct conf_portal_group *g)
{
	for (unsigned int i = 0; i < g->naddr; i++)
		mem_free(g->addr[i]);
	mem_free(g);
}

void
conf_portal_groups_free(struct list_node *head)
{
	struct list_node *n, *tmp;

	if (!conf_list_ready(head))
		return;

	list_for_each_safe(n, tmp, head) {
		list_remove(n);
		conf_portal_group_free(
		    list_entry(n, struct conf_portal_group, node));
	}
}

void
conf_tpgs_free(struct list_node *head)
{
	struct list_node *n, *tmp;

	if (!conf_list_ready(head))
		return;

	list_for_each_safe(n, tmp, head) {
		list_remove(n);
		mem_free(list_entry(n, struct conf_tpg, node));
	}
}

/* Insert g keeping head sorted by tag. */
static void
conf_tpg_insert(struct list_node *head, struct conf_tpg *g)
{
	struct list_node *n;

	list_for_each(n, head) {
		if (list_entry(n, struct conf_tpg, node)->tag > g->tag)
			break;
	}
	/* Before n (the head itself when every tag is smaller). */
	list_add_tail(n, &g->node);
}

int
conf_tpg_set(struct conf_target *t, unsigned int tag,
    enum conf_alua_state state)
{
	struct conf_tpg *g = conf_tpg_find(t, tag);

	if (g == NULL) {
		g = mem_zalloc(sizeof(*g));
		if (g == NULL)
			return -ENOMEM;
		list_init(&g->node);
		g->tag = tag;
		conf_tpg_insert(&t->tpgs, g);
	}
	g->state = state;
	return 0;
}

int
conf_tpgs_copy(struct list_node *dst, const struct list_node *src)
{
	const struct list_node *n;

	if (!conf_list_ready(src))
		return 0;
	list_for_each(n, src) {
		const struct conf_tpg *s =
		    list_entry(n, const struct conf_tpg, node);
		struct conf_tpg *d = mem_zalloc(sizeof(*d));

		if (d == NULL)
			return -ENOMEM;
		*d = *s;
		list_add_tail(dst, &d->node);
	}
	return 0;
}

int
conf_portal_groups_copy(struct conf *dst, const struct conf *src)
{
	const struct list_node *n;

	if (!conf_list_ready(&src->portal_groups))
		return 0;
	list_for_each(n, &src->portal_groups) {
		const struct conf_portal_group *s =
		    list_entry(n, const struct conf_portal_group, node);
		struct conf_portal_group *d = mem_zalloc(sizeof(*d));
		bool fail = false;

		if (d == NULL)
			return -ENOMEM;
		list_init(&d->node);
		d->tag = s->tag;
		d->line = s->line;
		d->remote = s->remote;
		for (unsigned int i = 0; i < s->naddr; i++) {
			d->addr[i] = conf_strdup_opt(s->addr[i], &fail);
			d->port[i] = s->port[i];
			d->naddr = i + 1;
		}
		list_add_tail(&dst->portal_groups, &d->node);
		if (fail)
			return -ENOMEM;
	}
	return 0;
}

bool
conf_portal_groups_equal(const struct conf *a, const struct conf *b)
{
	const struct list_node *n;
	unsigned int na = 0, nb = 0;

	list_for_each(n, &a->portal_groups) {
		const struct conf_portal_group *g =
		    list_entry(n, const struct conf_portal_group, node);
		const struct conf_portal_group *h =
		    conf_portal_group_find(b, g->tag);

		na++;
		if (h == NULL || h->naddr != g->naddr || h->remote != g->remote)
			return false;
		for (unsigned int i = 0; i < g->naddr; i++)
			if (strcmp(g->addr[i], h->addr[i]) != 0 ||
			    g->port[i] != h->port[i])
				return false;
	}
	list_for_each(n, &b->portal_groups)
		nb++;
	return na == nb;
}

/* Parse "host", "host:port", "[v6]" or "[v6]:port" into g's slot i. */
static bool
conf_portal_addr(struct conf_portal_group *g, const char *s, char *why,
    size_t whylen)
{
	char host[256];
	const char *port = NULL;
	uint64_t p = CONF_PG_DEFAULT_PORT;
	size_t hl;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end == s + 1 ||
		    (end[1] != '\0' && end[1] != ':')) {
			snprintf(why, whylen,
			    "PortalGroup %u: bad address %.64s (IPv6 goes in "
			    "brackets: [addr]:port)",
			    g->tag, s);
			return false;
		}
		hl = (size_t)(end - s - 1);
		if (hl >= sizeof(host))
			hl = sizeof(host) - 1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (end[1] == ':')
			port = end + 2;
	} else {
		const char *c = strchr(s, ':');

		if (c != NULL && strchr(c + 1, ':') != NULL) {
			snprintf(why, whylen,
			    "PortalGroup %u: bad address %.64s (IPv6 goes in "
			    "brackets: [addr]:port)",
			    g->tag, s);
			return false;
		}
		hl = c != NULL ? (size_t)(c - s) : strlen(s);
		if (hl == 0 || hl >= sizeof(host)) {
			snprintf(why, whylen,
			    "PortalGroup %u: bad address %.64s", g->tag, s);
			return false;
		}
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (c != NULL)
			port = c + 1;
	}
	if (port != NULL && str_to_u64(port, 1, 65535, false, &p) != 0) {
		snprintf(why, whylen,
		    "PortalGroup %u: bad port in %.64s (1 to 65535)", g->tag,
		    s);
		return false;
	}
	for (unsigned int i = 0; i < g->naddr; i++)
		if (strcmp(g->addr[i], host) == 0 && g->port[i] == p) {
			snprintf(why, whylen,
			    "PortalGroup %u: address %.64s is given twice",
			    g->tag, s);
			return false;
		}
	g->addr[g->naddr] = mem_strdup(host);
	if (g->addr[g->naddr] == NULL) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	g->port[g->naddr++] = (uint16_t)p;
	return true;
}

static bool
conf_portal_tag(const char *s, unsigned int min, unsigned int *tag, char *why,
    size_t whylen)
{
	uint64_t v;

	if (str_to_u64(s, min, CONF_PG_TAG_MAX, false, &v) != 0) {
		snprintf(why, whylen,
		    "PortalGroup %.64s: the tag is a number from %u to %u", s,
		    min, CONF_PG_TAG_MAX);
		return false;
	}
	*tag = (unsigned int)v;
	return true;
}

/* The global form: declare a portal group and its addresses. */
static bool
conf_portal_parse_global(struct conf *conf, char **tok, int ntok,
    unsigned int line, char *why, size_t whylen)
{
	struct conf_portal_group *g, *old;
	struct list_node *n;
	unsigned int tag;
	bool remote = false;
	int first = 2;

	/* "PortalGroup TAG Remote ADDRESS...": another gateway's group. */
	if (ntok >= 3 && strcasecmp(tok[2], "remote") == 0) {
		remote = true;
		first = 3;
	}
	if (ntok < first + 1) {
		snprintf(why, whylen,
		    "PortalGroup needs a tag and at least one address");
		return false;
	}
	if ((unsigned int)(ntok - first) > CONF_PG_ADDRS_MAX) {
		snprintf(why, whylen, "PortalGroup takes at most %u addresses",
		    CONF_PG_ADDRS_MAX);
		return false;
	}
	if (strcmp(tok[1], "1") == 0) {
		snprintf(why, whylen,
		    "PortalGroup 1 is the -a/--address and -p/--port listener "
		    "and takes no addresses here; use a tag from 2 to %u",
		    CONF_PG_TAG_MAX);
		return false;
	}
	if (!conf_portal_tag(tok[1], 2, &tag, why, whylen))
		return false;
	old = NULL;
	list_for_each(n, &conf->portal_groups) {
		struct conf_portal_group *o =
		    list_entry(n, struct conf_portal_group, node);

		if (o->tag == tag)
			old = o;
	}
	if (old != NULL) {
		snprintf(why, whylen,
		    "PortalGroup %u is declared twice (first at line %u)", tag,
		    old->line);
		return false;
	}
	g = mem_zalloc(sizeof(*g));
	if (g == NULL) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	list_init(&g->node);
	g->tag = tag;
	g->line = line;
	g->remote = remote;
	for (int i = first; i < ntok; i++)
		if (!conf_portal_addr(g, tok[i], why, whylen)) {
			conf_portal_group_free(g);
			return false;
		}
	/* Two groups cannot listen on one address. */
	list_for_each(n, &conf->portal_groups) {
		const struct conf_portal_group *o =
		    list_entry(n, const struct conf_portal_group, node);

		for (unsigned int i = 0; i < g->naddr; i++)
			for (unsigned int j = 0; j < o->naddr; j++)
				if (g->port[i] == o->port[j] &&
				    strcmp(g->addr[i], o->addr[j]) == 0) {
					snprintf(why, whylen,
					    "PortalGroup %u: %.64s port %u is "
					    "already PortalGroup %u's (line "
					    "%u)",
					    tag, g->addr[i], g->port[i], o->tag,
					    o->line);
					conf_portal_group_free(g);
					return false;
				}
	}
	list_for_each(n, &conf->portal_groups) {
		if (list_entry(n, struct conf_portal_group, node)->tag > tag)
			break;
	}
	list_add_tail(n, &g->node);
	return true;
}

bool
conf_portal_parse(struct conf *conf, struct conf_target *t, char **tok,
    int ntok, unsigned int line, char *why, size_t whylen)
{
	enum conf_alua_state st = CONF_ALUA_OPTIMIZED;
	struct conf_tpg *old;
	unsigned int tag;
	bool follow = false;

	if (t == NULL)
		return conf_portal_parse_global(conf, tok, ntok, line, why,
		    whylen);
	if (ntok < 2 || ntok > 3) {
		snprintf(why, whylen,
		    "PortalGroup inside a Target takes a tag and an optional "
		    "state (optimized, nonoptimized, standby, unavailable, "
		    "auto)");
		return false;
	}
	if (!conf_portal_tag(tok[1], 1, &tag, why, whylen))
		return false;
	if (ntok == 3 && strcasecmp(tok[2], "auto") == 0) {
		follow = true;
		st = CONF_ALUA_STANDBY;
	} else if (ntok == 3 && conf_alua_state_parse(tok[2], &st) != 0) {
		snprintf(why, whylen,
		    "PortalGroup %u: unknown state %.64s (optimized, "
		    "nonoptimized, standby, unavailable or auto)",
		    tag, tok[2]);
		return false;
	}
	old = conf_tpg_find(t, tag);
	if (old != NULL) {
		snprintf(why, whylen,
		    "PortalGroup %u is given twice in this target (first at "
		    "line %u)",
		    tag, old->line);
		return false;
	}
	if (conf_tpg_set(t, tag, st) != 0) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	conf_tpg_find(t, tag)->line = line;
	conf_tpg_find(t, tag)->follow_lock = follow;
	return true;
}

void
conf_portal_check(const struct conf *conf,
    void (*bad)(void *arg, unsigned int line, const char *msg), void *arg)
{
	const struct list_node *n, *m;
	char msg[160];

	list_for_each(n, &conf->targets) {
		const struct conf_target *t =
		    list_entry(n, const struct conf_target, node);

		list_for_each(m, &t->tpgs) {
			const struct conf_tpg *g =
			    list_entry(m, const struct conf_tpg, node);

			if (g->tag == 1 ||
			    conf_portal_group_find(conf, g->tag) != NULL)
				continue;
			snprintf(msg, sizeof(msg),
			    "PortalGroup %u is not declared (a global "
			    "PortalGroup %u ADDRESS line is missing)",
			    g->tag, g->tag);
			bad(arg, g->line, msg);
		}
	}
}

void
conf_portal_write(const struct conf *conf, FILE *f)
{
	const struct list_node *n;

	if (!conf_list_ready(&conf->portal_groups))
		return;
	list_for_each(n, &conf->portal_groups) {
		const struct conf_portal_group *g =
		    list_entry(n, const struct conf_portal_group, node);

		fprintf(f, "PortalGroup %u%s", g->tag,
		    g->remote ? " Remote" : "");
		for (unsigned int i = 0; i < g->naddr; i++)
			fprintf(f,
			    strchr(g->addr[i], ':') ? " [%s]:%u" : " %s:%u",
			    g->addr[i], g->port[i]);
		fprintf(f, "\n");
	}
}

void
conf_tpgs_write(const struct conf_target *t, FILE *f)
{
	const struct list_node *n;

	if (!conf_list_ready(&t->tpgs))
		return;
	list_for_each(n, &t->tpgs) {
		const struct conf_tpg *g =
		    list_entry(n, const struct conf_tpg, node);

		fprintf(f, "\tPortalGroup %u %s\n", g->tag,
		    g->follow_lock ? "auto" : conf_alua_state_name(g->state));
	}
}
