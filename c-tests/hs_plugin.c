/* A PHP-style extension for the host-safety tests: it makes and connects its TCP socket itself, so
 * under RTLD_DEEPBIND its socket()/connect() bind inside its own lookup scope. Like a real
 * extension it has hundreds of relocations: socket's GOT slot is bound first (noplt puts it in
 * .rela.dyn), then 600 PLT slots on the same pages, some of them functions chosen by a resolver
 * that works a while (ifunc, as a library picks a CPU-specific variant). So the loader keeps
 * writing to the GOT page of socket for a while after binding it: the time in which another
 * thread, its own dlopen done, can look at this object. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

extern int socket(int, int, int) __attribute__((noplt));

#define F(n) int hs_f##n(int x) { return x + 1; }
#define C(n) x = hs_f##n(x);
#define D10(M, p) M(p##0) M(p##1) M(p##2) M(p##3) M(p##4) M(p##5) M(p##6) M(p##7) M(p##8) M(p##9)
#define D100(M, p) D10(M, p##0) D10(M, p##1) D10(M, p##2) D10(M, p##3) D10(M, p##4) \
    D10(M, p##5) D10(M, p##6) D10(M, p##7) D10(M, p##8) D10(M, p##9)
#define D600(M) D100(M, 0) D100(M, 1) D100(M, 2) D100(M, 3) D100(M, 4) D100(M, 5)

D600(F)

static int variant(int x) { return x + 1; }
static void *resolve(void) {
    for (volatile int i = 0; i < 50000; i++) {
    }
    return (void *)variant;
}
#define PICK(n) int hs_pick##n(int) __attribute__((ifunc("resolve")));
#define CALL_PICK(n) x = hs_pick##n(x);
D10(PICK, )

/* Exported and interposable, so each call goes through a PLT slot of this object. */
int plugin_work(int x) {
    D600(C)
    D10(CALL_PICK, )
    return x;
}

/* A connected TCP socket to 127.0.0.1:port, or -1. */
int plugin_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons(port)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || plugin_work(0) != 610) {
        close(fd);
        return -1;
    }
    return fd;
}
