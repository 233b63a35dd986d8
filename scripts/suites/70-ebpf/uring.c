/* A loopback TCP client and server whose sockets are made, connected and accepted through
 * io_uring (IORING_OP_SOCKET, IORING_OP_CONNECT, IORING_OP_ACCEPT): no socket(), connect() or
 * accept() call for LD_PRELOAD to hook. bind/listen stay system calls (io_uring has them only
 * from Linux 6.11 and liburing 2.7). Prints the keepalive options of both ends like pair.c. */
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "show.h"

static struct io_uring ring;

/* Waits for the completion tagged `tag`, returns its result. */
static int wait_for(unsigned long tag, int *other_res, unsigned long *other_tag)
{
	for (;;) {
		struct io_uring_cqe *cqe;
		if (io_uring_wait_cqe(&ring, &cqe) < 0)
			return -1;
		unsigned long t = (unsigned long)io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		if (t == tag)
			return res;
		*other_res = res;
		*other_tag = t;
	}
}

static int ring_socket(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_socket(sqe, AF_INET, SOCK_STREAM, 0, 0);
	io_uring_sqe_set_data(sqe, (void *)1UL);
	io_uring_submit(&ring);
	int other;
	unsigned long ot;
	return wait_for(1, &other, &ot);
}

int main(void)
{
	if (io_uring_queue_init(8, &ring, 0) < 0) {
		fprintf(stderr, "io_uring_queue_init failed\n");
		return 2;
	}
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = ring_socket();
	if (l < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&a, &len)) {
		fprintf(stderr, "listen: ring socket result %d\n", l);
		return 2;
	}
	int c = ring_socket();
	if (c < 0) {
		fprintf(stderr, "ring socket: %s\n", strerror(-c));
		return 2;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_accept(sqe, l, NULL, NULL, 0);
	io_uring_sqe_set_data(sqe, (void *)2UL);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_connect(sqe, c, (struct sockaddr *)&a, len);
	io_uring_sqe_set_data(sqe, (void *)3UL);
	io_uring_submit(&ring);
	int other = -1;
	unsigned long ot = 0;
	int conn = wait_for(3, &other, &ot);
	int s = ot == 2 ? other : wait_for(2, &other, &ot);
	if (conn < 0 || s < 0) {
		fprintf(stderr, "ring connect %d accept %d\n", conn, s);
		return 2;
	}
	show("client", c);
	show("server", s);
	io_uring_queue_exit(&ring);
	return 0;
}
