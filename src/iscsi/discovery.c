/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * SendTargets (RFC 7143 13.3 and appendix C): the targets this initiator
 * may see, each with the portals it may be reached through. A wildcard
 * listen address stands for every address of this host of that family
 * (getifaddrs, loopback included). IPv6 addresses go in brackets.
 * A target is named only to initiators that may log in to it through
 * the portal they asked on.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ifaddrs.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/allow.h"
#include "isns/isns.h"
#include "target/target.h"
#include "iscsi.h"
#include "iscsi_int.h"
#include "text.h"

#define DISCOVERY_PORTALS_MAX 64

static struct sockaddr_storage discovery_portals[DISCOVERY_PORTALS_MAX];
static uint16_t discovery_tags[DISCOVERY_PORTALS_MAX];
static unsigned int discovery_nportals;
static pthread_mutex_t discovery_mutex = PTHREAD_MUTEX_INITIALIZER;

void
iscsi_set_portal_tags(const struct sockaddr_storage *addrs,
    const uint16_t *tags, unsigned int n)
{
	pthread_mutex_lock(&discovery_mutex);
	if (n > DISCOVERY_PORTALS_MAX)
		n = DISCOVERY_PORTALS_MAX;
	memcpy(discovery_portals, addrs, n * sizeof(*addrs));
	for (unsigned int i = 0; i < n; i++)
		discovery_tags[i] = tags != NULL ? tags[i] : 1;
	discovery_nportals = n;
	pthread_mutex_unlock(&discovery_mutex);
}

void
iscsi_set_portals(const struct sockaddr_storage *addrs, unsigned int n)
{
	iscsi_set_portal_tags(addrs, NULL, n);
}

static bool discovery_is_wildcard(const struct sockaddr_storage *ss);
static uint16_t discovery_port(const struct sockaddr_storage *ss);

static bool
discovery_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)
			   ->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)(const void *)b)
			->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return IN6_ARE_ADDR_EQUAL(&((const struct sockaddr_in6
						    *)(const void *)a)
					       ->sin6_addr,
		    &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr);
	return false;
}

uint16_t
iscsi_portal_tag(const struct sockaddr_storage *local)
{
	uint16_t tag = 1, port = discovery_port(local);
	bool exact = false;

	/* The listener bound to this very address wins over a wildcard. */
	pthread_mutex_lock(&discovery_mutex);
	for (unsigned int i = 0; i < discovery_nportals && !exact; i++) {
		const struct sockaddr_storage *p = &discovery_portals[i];

		if (discovery_port(p) != port)
			continue;
		if (discovery_same_addr(p, local)) {
			tag = discovery_tags[i];
			exact = true;
		} else if (p->ss_family == local->ss_family &&
		    discovery_is_wildcard(p)) {
			tag = discovery_tags[i];
		}
	}
	pthread_mutex_unlock(&discovery_mutex);
	return tag;
}

struct discovery_ctx {
	struct iscsi_conn *conn;
	const char *want; /* a target name, or NULL for All */
	struct strbuf *sb;
	struct ifaddrs *ifa;
	struct sockaddr_storage portals[DISCOVERY_PORTALS_MAX];
	uint16_t tags[DISCOVERY_PORTALS_MAX];
	unsigned int nportals;
};

static bool
discovery_is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)
			   ->sin_addr.s_addr == htonl(INADDR_ANY);
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)(const void *)ss)
			 ->sin6_addr);
	return false;
}

static uint16_t
discovery_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(
		    ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
}

/* Append TargetAddress for one address if targets.allow lets it be seen. */
static void
discovery_put_addr(struct discovery_ctx *c, const char *name,
    const struct sockaddr *sa, uint16_t port, uint16_t tag)
{
	char a[INET6_ADDRSTRLEN], v[INET6_ADDRSTRLEN + 16];

	if (!allow_target_portal(target_allow_paths(), name, sa))
		return;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		/* A link-local address is useless without its scope. */
		if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr))
			return;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(v, sizeof(v), "[%s]:%u,%u", a, port, tag);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(v, sizeof(v), "%s:%u,%u", a, port, tag);
	}
	text_put(c->sb, "TargetAddress", v);
}

static bool
discovery_one(struct target *t, void *arg)
{
	struct discovery_ctx *c = arg;
	struct iscsi_conn *conn = c->conn;
	const char *name = target_name(t);

	/* iSCSI names compare case-insensitively (RFC 3722 folds case). */
	if (c->want != NULL && strcasecmp(c->want, name) != 0)
		return true;
	/*
	 * A target this initiator could not log in to is not named to it
	 * at all (its name alone tells what is stored here): the checks
	 * login_first() makes, for this initiator's name and address and
	 * for the portal it came in through. A file that cannot be read
	 * hides the target, as it would refuse the login.
	 */
	if (!allow_initiator(target_allow_paths(), name,
		conn->session->initiator,
		(const struct sockaddr *)&conn->peer) ||
	    !allow_target_portal(target_allow_paths(), name,
		(const struct sockaddr *)&conn->local) ||
	    !isns_allow(name, conn->session->initiator))
		return true;
	text_put(c->sb, "TargetName", name);
	for (unsigned int i = 0; i < c->nportals; i++) {
		const struct sockaddr_storage *p = &c->portals[i];
		uint16_t port = discovery_port(p);

		/* Only the portal groups that offer it (ALUA, PortalGroup). */
		if (!target_port_offered(t, c->tags[i]))
			continue;
		if (!discovery_is_wildcard(p)) {
			discovery_put_addr(c, name, (const void *)p, port,
			    c->tags[i]);
			continue;
		}
		if (c->ifa == NULL && getifaddrs(&c->ifa) != 0)
			c->ifa = NULL;
		for (struct ifaddrs *i2 = c->ifa; i2 != NULL;
		     i2 = i2->ifa_next) {
			if (i2->ifa_addr == NULL ||
			    i2->ifa_addr->sa_family != p->ss_family)
				continue;
			discovery_put_addr(c, name, i2->ifa_addr, port,
			    c->tags[i]);
		}
	}
	return !c->sb->overflow;
}

int
discovery_send_targets(struct iscsi_conn *conn, const char *value,
    struct strbuf *sb)
{
	struct iscsi_session *s = conn->session;
	struct discovery_ctx c;

	memset(&c, 0, sizeof(c));
	c.conn = conn;
	c.sb = sb;
	if (!s->discovery) {
		/*
		 * RFC 7143 Appendix C: All is for discovery sessions only,
		 * and an empty value names this session's target. A normal
		 * session learns nothing of other targets here: its login
		 * did not pass discovery authentication, only this target's.
		 */
		if (s->target == NULL ||
		    (value[0] != '\0' && strcmp(value, "All") != 0 &&
			strcasecmp(value, target_name(s->target)) != 0))
			return 0;
		c.want = target_name(s->target);
	} else if (strcmp(value, "All") == 0) {
		c.want = NULL;
	} else if (value[0] == '\0') {
		return 0; /* a discovery session has no target of its own */
	} else {
		c.want = value;
	}
	pthread_mutex_lock(&discovery_mutex);
	c.nportals = discovery_nportals;
	memcpy(c.portals, discovery_portals, c.nportals * sizeof(c.portals[0]));
	memcpy(c.tags, discovery_tags, c.nportals * sizeof(c.tags[0]));
	pthread_mutex_unlock(&discovery_mutex);
	if (c.nportals == 0) {
		/* Not told: the address this connection came in on. */
		c.portals[0] = conn->local;
		c.tags[0] = 1;
		c.nportals = 1;
	}
	target_foreach(discovery_one, &c);
	if (c.ifa != NULL)
		freeifaddrs(c.ifa);
	return sb->overflow ? -E2BIG : 0;
}
