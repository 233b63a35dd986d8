/* A loopback TCP client and server in one process, with no help from libc's socket wrappers
 * being hooked (built with gcc -static, so LD_PRELOAD cannot reach it). Prints the keepalive
 * options of both ends as "client|server KEEPALIVE IDLE INTVL CNT USER_TIMEOUT".
 * Usage: pair [own[=IDLE]|on|after|off|-] [WAIT_FILE]   WAIT_FILE: connect only once it exists
 *   own: the program turns keepalive on itself (idle 999 s, or IDLE) before connecting and on the
 *        listener (accepted sockets inherit it), as a program with its own settings does;
 *   on: SO_KEEPALIVE only, before connecting and on the listener, leaving the kernel's default
 *       timers (Java's setKeepAlive(true), sshd's TCPKeepAlive);
 *   after: once connected, both ends set keepalive on with idle 15 s and interval 15 s, as Go's
 *          net.Dial and Accept do;
 *   off: once connected, both ends turn keepalive off. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "show.h"

static int own_idle = 999;

static void own_keepalive(int fd)
{
	int on = 1, idle = own_idle;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
}

static void only_on(int fd)
{
	int on = 1;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
}

static void after(int fd, const char *mode)
{
	int on = strcmp(mode, "after") == 0, period = 15;
	if (strcmp(mode, "after") != 0 && strcmp(mode, "off") != 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	if (on) {
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &period, sizeof(period));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &period, sizeof(period));
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int own = strncmp(mode, "own", 3) == 0, on = strcmp(mode, "on") == 0;
	if (own && mode[3] == '=')
		own_idle = atoi(mode + 4);
	for (int tries = 0; argc > 2 && access(argv[2], F_OK) != 0; tries++) {
		if (tries == 600) {
			fprintf(stderr, "%s never appeared\n", argv[2]);
			return 2;
		}
		usleep(50000);
	}
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (own)
		own_keepalive(l);
	if (on)
		only_on(l);
	if (l < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&a, &len)) {
		perror("listen");
		return 2;
	}
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (own)
		own_keepalive(c);
	if (on)
		only_on(c);
	if (c < 0 || connect(c, (struct sockaddr *)&a, len)) {
		perror("connect");
		return 2;
	}
	int s = accept(l, NULL, NULL);
	if (s < 0) {
		perror("accept");
		return 2;
	}
	after(c, mode);
	after(s, mode);
	show("client", c);
	show("server", s);
	return 0;
}
