/* A loopback TCP client and server in one process, with no help from libc's socket wrappers
 * being hooked (built with gcc -static, so LD_PRELOAD cannot reach it). Prints the keepalive
 * options of both ends as "client|server KEEPALIVE IDLE INTVL CNT USER_TIMEOUT".
 * Usage: pair [own]   own: the program turns keepalive on itself (idle 999 s) before connecting
 * and on the listener (accepted sockets inherit it), as a program with its own settings does. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "show.h"

static void own_keepalive(int fd)
{
	int on = 1, idle = 999;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
}

int main(int argc, char **argv)
{
	int own = argc > 1 && strcmp(argv[1], "own") == 0;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (own)
		own_keepalive(l);
	if (l < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&a, &len)) {
		perror("listen");
		return 2;
	}
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (own)
		own_keepalive(c);
	if (c < 0 || connect(c, (struct sockaddr *)&a, len)) {
		perror("connect");
		return 2;
	}
	int s = accept(l, NULL, NULL);
	if (s < 0) {
		perror("accept");
		return 2;
	}
	show("client", c);
	show("server", s);
	return 0;
}
