/* show(WHO, FD): prints "WHO KEEPALIVE IDLE INTVL CNT USER_TIMEOUT" as the kernel reports them
 * for FD (-1 where getsockopt fails). Shared by pair.c and uring.c, whose output the suite
 * compares line by line. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>

static int get(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	if (getsockopt(fd, level, name, &v, &l) != 0)
		return -1;
	return v;
}

static void show(const char *who, int fd)
{
	printf("%s %d %d %d %d %d\n", who, get(fd, SOL_SOCKET, SO_KEEPALIVE),
	       get(fd, IPPROTO_TCP, TCP_KEEPIDLE), get(fd, IPPROTO_TCP, TCP_KEEPINTVL),
	       get(fd, IPPROTO_TCP, TCP_KEEPCNT), get(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
}
