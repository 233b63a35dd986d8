/* The crawler of crawler.py in C, built with gcc -static by the firewall lab: a program
 * LD_PRELOAD cannot reach (scenarios 7a/7b). Same protocol and log lines: connects to the
 * controller, answers every task with "ack <task>", exits when the controller closes.
 * Usage: crawler-static HOST PORT */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct timespec t0;

static void log_line(const char *msg, const char *arg)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	double s = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
	printf("[%6.2fs] crawler: %s%s\n", s, msg, arg ? arg : "");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (argc != 3) {
		fprintf(stderr, "usage: crawler-static HOST PORT\n");
		return 2;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("connect");
		return 1;
	}
	log_line("connected", NULL);
	char buf[4096], quoted[4200], ack[4200];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0) {
			perror("recv");
			return 1;
		}
		if (n == 0) {
			log_line("controller closed the connection", NULL);
			break;
		}
		buf[n] = 0;
		buf[strcspn(buf, "\r\n")] = 0;
		snprintf(quoted, sizeof(quoted), "'%s'", buf);
		log_line("got ", quoted);
		int len = snprintf(ack, sizeof(ack), "ack %s\n", buf);
		if (send(fd, ack, len, 0) != len) {
			perror("send");
			return 1;
		}
	}
	close(fd);
	return 0;
}
