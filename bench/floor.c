/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */

/*
 * bench/floor.c: the kernel's price of one request/response round trip over
 * loopback TCP, measured without any iSCSI target.
 *
 * A forked responder does the least any readiness-based server can do per
 * request: one epoll_wait, one read, one writev of a 48-byte reply (the size
 * of a SCSI Response PDU). The client sends each request the way libiscsi
 * does with ImmediateData - a 48-byte header, then the data in a second
 * send, TCP_NODELAY on both ends - and waits for the reply before the next
 * one, as qemu-img bench at depth 1 does. The responder's CPU time per
 * request is the floor under every target's "CPU ms/1k I/O" at depth 1 on
 * this machine: almost all of it is the kernel delivering segments, sending
 * ACKs and waking the other side, which no target can skip.
 *
 * Usage: floor REQUESTS DATA_BYTES
 * Prints "CPU_SECONDS REQUESTS ELAPSED_SECONDS" of the responder.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { HEADER = 48, REPLY = 48, MAX_DATA = 1 << 20 };

static void
die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double
seconds(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die("TCP_NODELAY");
}

/* Answer every whole request with one reply; report CPU and elapsed time. */
static void
respond(int lsock, long requests, long data, int report_fd)
{
	static char buf[MAX_DATA + HEADER];
	char reply[REPLY] = { 0 };
	struct epoll_event ev = { .events = EPOLLIN };
	long need = HEADER + data, have = 0, done = 0;
	int sock, ep;
	double start;

	sock = accept(lsock, NULL, NULL);
	if (sock < 0)
		die("accept");
	nodelay(sock);
	fcntl(sock, F_SETFL, O_NONBLOCK);
	ep = epoll_create1(0);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sock, &ev) < 0)
		die("epoll");
	start = now();
	while (done < requests) {
		if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
			die("epoll_wait");
		/*
		 * Read until the requests received are all answered, not until
		 * EAGAIN: at depth 1 that is one read per request, as in ietd.
		 */
		for (;;) {
			ssize_t n = read(sock, buf, sizeof(buf));
			if (n == 0)
				exit(1);
			if (n < 0) {
				if (errno == EAGAIN)
					break;
				die("read");
			}
			have += n;
			while (have >= need) {
				struct iovec iov = { reply, sizeof(reply) };
				have -= need;
				if (writev(sock, &iov, 1) != sizeof(reply))
					die("writev");
				done++;
			}
			if (have == 0)
				break;
		}
	}

	struct rusage ru;
	char line[128];
	getrusage(RUSAGE_SELF, &ru);
	int len = snprintf(line, sizeof(line), "%.6f %ld %.6f\n",
	    seconds(ru.ru_utime) + seconds(ru.ru_stime), done, now() - start);
	if (write(report_fd, line, len) != len)
		die("report");
}

/* Send like libiscsi: header, then the data in its own send. */
static void
request(int sock, long requests, long data)
{
	static char header[HEADER], payload[MAX_DATA];
	char reply[REPLY];

	for (long i = 0; i < requests; i++) {
		if (send(sock, header, sizeof(header), 0) != sizeof(header))
			die("send header");
		if (data > 0 && send(sock, payload, data, 0) != data)
			die("send data");
		for (size_t got = 0; got < sizeof(reply);) {
			ssize_t n = recv(sock, reply + got, sizeof(reply) - got, 0);
			if (n <= 0)
				die("recv");
			got += n;
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t alen = sizeof(addr);
	long requests, data;
	int lsock, sock, pipefd[2], status;
	char line[128];
	pid_t pid;

	if (argc != 3) {
		fprintf(stderr, "usage: floor REQUESTS DATA_BYTES\n");
		return 2;
	}
	requests = atol(argv[1]);
	data = atol(argv[2]);
	if (requests <= 0 || data < 0 || data > MAX_DATA) {
		fprintf(stderr, "floor: REQUESTS > 0, 0 <= DATA_BYTES <= %d\n",
		    MAX_DATA);
		return 2;
	}
	lsock = socket(AF_INET, SOCK_STREAM, 0);
	if (lsock < 0 || bind(lsock, (struct sockaddr *)&addr, alen) < 0 ||
	    getsockname(lsock, (struct sockaddr *)&addr, &alen) < 0 ||
	    listen(lsock, 1) < 0 || pipe(pipefd) < 0)
		die("listen");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(pipefd[0]);
		respond(lsock, requests, data, pipefd[1]);
		_exit(0);
	}
	close(pipefd[1]);
	close(lsock);
	sock = socket(AF_INET, SOCK_STREAM, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&addr, alen) < 0)
		die("connect");
	nodelay(sock);
	request(sock, requests, data);
	ssize_t n = read(pipefd[0], line, sizeof(line) - 1);
	close(sock);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || n <= 0) {
		fprintf(stderr, "floor: the responder failed\n");
		return 1;
	}
	line[n] = '\0';
	fputs(line, stdout);
	return 0;
}
