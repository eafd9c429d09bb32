/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Listening sockets. With no address ietd listens on every address of
 * both families: one IPv6 socket with IPV6_V6ONLY and one IPv4 socket, so
 * neither depends on the host's bindv6only setting.
 */
#ifndef IETD_NET_LISTEN_H
#define IETD_NET_LISTEN_H

#include <sys/socket.h>

#include <stdint.h>

#define LISTEN_MAX 64

struct listen_set {
	int fd[LISTEN_MAX];
	struct sockaddr_storage addr[LISTEN_MAX]; /* as bound */
	unsigned int n;
};

/*
 * Bind and listen on addr (NULL = any, both families; a literal IPv4 or
 * IPv6 address, brackets allowed; or a host name) and port. Sockets are
 * non-blocking and close-on-exec. Logs IET's "unable to create/bind/listen
 * to server socket (%s)!" on failure and returns -errno; succeeds when at
 * least one address could be bound.
 */
int listen_open(const char *addr, uint16_t port, struct listen_set *ls);
/*
 * The same, adding to the sockets ls holds already (ietd.conf's portal
 * groups); succeeds when at least one new address could be bound.
 */
int listen_add(const char *addr, uint16_t port, struct listen_set *ls);
void listen_close(struct listen_set *ls);
/* Text form "addr:port" / "[addr]:port" of a socket address. */
const char *listen_addr_str(const struct sockaddr *sa, char *buf, size_t len);

#endif /* IETD_NET_LISTEN_H */
