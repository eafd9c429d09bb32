/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Listening sockets for the iSCSI portal. Binding happens before
 * privileges are dropped (ietd -u/-g), so nothing here may assume root
 * later.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "listen.h"

#define LISTEN_BACKLOG 1024

const char *
listen_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else {
		snprintf(buf, len, "(unknown family %d)", sa->sa_family);
	}
	return buf;
}

static int
listen_one(const struct sockaddr *sa, socklen_t salen, struct listen_set *ls)
{
	int one = 1, fd, err;
	char name[64];

	if (ls->n == LISTEN_MAX)
		return -ENOSPC;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		err = -errno;
		log_error("unable to create server socket (%s)!",
		    strerror(errno));
		return err;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		log_warning("unable to set SO_REUSEADDR on server socket (%s)!",
		    strerror(errno));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, salen) < 0) {
		err = -errno;
		log_error("unable to bind server socket (%s)! (%s)",
		    strerror(errno), listen_addr_str(sa, name, sizeof(name)));
		close(fd);
		return err;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		err = -errno;
		log_error("unable to listen to server socket (%s)!",
		    strerror(errno));
		close(fd);
		return err;
	}
	ls->fd[ls->n] = fd;
	memcpy(&ls->addr[ls->n], sa, salen);
	ls->n++;
	log_info("listening on %s", listen_addr_str(sa, name, sizeof(name)));
	return 0;
}

int
listen_open(const char *addr, uint16_t port, struct listen_set *ls)
{
	ls->n = 0;
	return listen_add(addr, port, ls);
}

int
listen_add(const char *addr, uint16_t port, struct listen_set *ls)
{
	char host[256], portstr[8];
	struct addrinfo hints, *res, *ai;
	unsigned int had = ls->n;
	int err = 0, rc;

	snprintf(portstr, sizeof(portstr), "%u", port);
	if (addr == NULL || *addr == '\0') {
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6,
		    .sin6_addr = IN6ADDR_ANY_INIT,
		    .sin6_port = htons(port)};
		struct sockaddr_in s4 = {.sin_family = AF_INET,
		    .sin_addr.s_addr = htonl(INADDR_ANY),
		    .sin_port = htons(port)};
		int e6 = listen_one((struct sockaddr *)&s6, sizeof(s6), ls);
		int e4 = listen_one((struct sockaddr *)&s4, sizeof(s4), ls);
		/* A host without IPv6 still serves IPv4, and vice versa. */
		return ls->n > had ? 0 : (e4 ? e4 : e6);
	}
	/* Accept "[::1]" as well as "::1". */
	snprintf(host, sizeof(host), "%s", addr);
	if (host[0] == '[') {
		size_t l = strlen(host);
		if (l < 3 || host[l - 1] != ']') {
			log_error("unable to bind server socket (bad address "
				  "%s)!",
			    addr);
			return -EINVAL;
		}
		memmove(host, host + 1, l - 2);
		host[l - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		log_error("unable to bind server socket (%s: %s)!", addr,
		    gai_strerror(rc));
		return -EINVAL;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int e = listen_one(ai->ai_addr, ai->ai_addrlen, ls);
		if (e && !err)
			err = e;
	}
	freeaddrinfo(res);
	return ls->n > had ? 0 : (err ? err : -EADDRNOTAVAIL);
}

void
listen_close(struct listen_set *ls)
{
	for (unsigned int i = 0; i < ls->n; i++)
		close(ls->fd[i]);
	ls->n = 0;
}
