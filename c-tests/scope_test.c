/* Scope rules (KASHIM_DIRECTION, KASHIM_ONLY, KASHIM_EXCEPT), KASHIM_FORCE=cap and
 * KASHIM_CHILDREN=0, checked on real loopback connections read back with getsockopt.
 *   scope_test CASE...      each CASE is DIR,DST,SRC,PORT,EXPECT:
 *       DIR     out (check the connecting socket) or in (check the accepted socket)
 *       DST     destination address (IPv4, IPv6, or ::ffff:a.b.c.d from an IPv6 socket)
 *       SRC     source address to bind the client to, or - (the peer seen at accept)
 *       PORT    A or B (IPv6 dual-stack listeners on [::], ports $SCOPE_PORT_A/$SCOPE_PORT_B) or
 *               C (IPv4 listener on 0.0.0.0, port $SCOPE_PORT_C)
 *       EXPECT  1: kashim's values ($EXPECT_*), 0: kernel defaults (keepalive off)
 *   scope_test cap          FORCE=cap: the program's keepalive calls before and after kashim's
 *   scope_test children OTHERLIB   KASHIM_CHILDREN=0: a thread execs this program again */
#include "common.h"
#include <pthread.h>

static int port_of(char which) {
    if (which == 'A') return env_int("SCOPE_PORT_A", 47311);
    if (which == 'B') return env_int("SCOPE_PORT_B", 47312);
    return env_int("SCOPE_PORT_C", 47313);
}

static int listener(int domain, int port) {
    int fd = socket(domain, SOCK_STREAM, 0), one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc;
    if (domain == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT, .sin6_port = htons(port)};
        rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY), .sin_port = htons(port)};
        rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    }
    if (rc || listen(fd, 16)) {
        /* Busy port: the harness tries other ports (exit 3), so no result line here. */
        fprintf(stderr, "scope_test: listen on port %d: %s\n", port, strerror(errno));
        exit(3);
    }
    return fd;
}

/* addr text -> sockaddr of the right family; returns its length. */
static socklen_t sockaddr_of(const char *text, int port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    if (strchr(text, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        if (inet_pton(AF_INET6, text, &a->sin6_addr) != 1) return 0;
        return sizeof *a;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, text, &a->sin_addr) != 1) return 0;
    return sizeof *a;
}

static void one_case(char *spec, int listeners[3]) {
    char dir[8], dst[64], src[64], which;
    int expect;
    char check[256];
    if (sscanf(spec, "%7[^,],%63[^,],%63[^,],%c,%d", dir, dst, src, &which, &expect) != 5) {
        result(0, spec, "bad case");
        return;
    }
    struct sockaddr_storage to, from;
    socklen_t to_len = sockaddr_of(dst, port_of(which), &to);
    int client = socket(to.ss_family, SOCK_STREAM, 0);
    if (strcmp(src, "-") != 0) {
        socklen_t from_len = sockaddr_of(src, 0, &from);
        if (bind(client, (struct sockaddr *)&from, from_len)) { result(0, spec, "bind source"); return; }
    }
    errno = 4242;
    int rc = connect(client, (struct sockaddr *)&to, to_len);
    snprintf(check, sizeof check, "connect to %s port %c returns 0 and keeps errno", dst, which);
    result(rc == 0 && errno == 4242, check, strerror(errno));
    int l = listeners[which - 'A'];
    int accepted = accept(l, NULL, NULL);
    int fd = strcmp(dir, "out") == 0 ? client : accepted;
    snprintf(check, sizeof check, "%s %s -> %s port %c: %s", dir, strcmp(src, "-") ? src : "(any)",
             dst, which, expect ? "kashim's keepalive" : "left alone");
    if (expect) expect_configured(check, fd);
    else expect_kernel_defaults(check, fd);
    close(accepted);
    close(client);
}

static void expect_values(const char *check, int fd, int on, int idle, int intvl, int cnt) {
    struct keepalive k = keepalive_of(fd);
    char why[160];
    describe(why, sizeof why, k);
    /* -1: any value (the kernel's defaults come from sysctls). */
    result(k.on == on && (idle < 0 || k.idle == idle) && (intvl < 0 || k.intvl == intvl) && (cnt < 0 || k.cnt == cnt), check, why);
}

static int set_int(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value);
}

/* FORCE=cap with kashim's 60/10/6: longer values are lowered, shorter stand, off stays off. */
static void cap(void) {
    int l = listener(AF_INET, port_of('C'));
    struct sockaddr_storage to;
    socklen_t to_len = sockaddr_of("127.0.0.1", port_of('C'), &to);
    /* The program first: its values are there before kashim's decision. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rc = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1) | set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 300) |
             set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 5) | set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 20);
    result(rc == 0, "program before kashim: its setsockopt calls succeed", strerror(errno));
    connect(fd, (struct sockaddr *)&to, to_len);
    expect_values("program before kashim: idle 300 lowered to 60, interval 5 stands, count 20 lowered to 6", fd, 1, 60, 5, 6);
    close(accept(l, NULL, NULL));
    close(fd);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
    set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 300);
    connect(fd, (struct sockaddr *)&to, to_len);
    /* Idle: 300 if kashim decided at connect() (scope set), 60 if at socket(). */
    expect_values("program before kashim: keepalive turned off stays off", fd, 0, -1, -1, -1);
    close(accept(l, NULL, NULL));
    close(fd);
    /* kashim first: the program changes its values on a connected socket. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    connect(fd, (struct sockaddr *)&to, to_len);
    expect_values("program after kashim: kashim's values first", fd, 1, 60, 10, 6);
    rc = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 300);
    result(rc == 0, "program after kashim: setsockopt idle 300 succeeds", strerror(errno));
    set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 5);
    set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 100);
    expect_values("program after kashim: idle 300 lowered to 60, interval 5 stands, count 100 lowered to 6", fd, 1, 60, 5, 6);
    set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 20);
    set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
    expect_values("program after kashim: idle 20 stands, keepalive off stays off", fd, 0, 20, 5, 6);
    errno = 4242;
    rc = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 40000);
    result(rc == -1 && errno == EINVAL, "program after kashim: an out-of-range idle still gets EINVAL", strerror(errno));
    close(accept(l, NULL, NULL));
    close(fd);
    close(l);
}

/* KASHIM_CHILDREN=0: the parent's sockets are configured; a thread execs this program again. */
static const char *self_path;
static void *exec_from_thread(void *arg) {
    (void)arg;
    pid_t pid = fork();
    if (pid == 0) {
        execl(self_path, self_path, "children-child", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    result(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exited cleanly", "child failed");
    return NULL;
}

static int maps_contain(const char *name) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, name)) found = 1;
    if (f) fclose(f);
    return found;
}

static void children(const char *other) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    expect_configured("parent: its own socket is configured", fd);
    close(fd);
    pthread_t t;
    pthread_create(&t, NULL, exec_from_thread, NULL);
    pthread_join(t, NULL);
    (void)other;
}

static void children_child(void) {
    extern char **environ;
    const char *preload = getenv("LD_PRELOAD");
    const char *other = getenv("SCOPE_OTHER_LIB");
    char why[512];
    snprintf(why, sizeof why, "LD_PRELOAD=%s", preload ? preload : "(unset)");
    result(preload && other && strstr(preload, other) && !strstr(preload, "libkashim"),
           "child: LD_PRELOAD keeps the other library and not kashim", why);
    result(!maps_contain("libkashim"), "child: libkashim.so is not loaded", "it is mapped");
    result(other && maps_contain(other), "child: the other preloaded library is loaded", "not mapped");
    int kashim_vars = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "KASHIM_", 7) == 0) kashim_vars++;
    snprintf(why, sizeof why, "%d KASHIM_* variables", kashim_vars);
    result(kashim_vars == 0, "child: no KASHIM_* variable inherited", why);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    expect_kernel_defaults("child: its socket is left alone", fd);
    close(fd);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "cap") == 0) { cap(); return finish(); }
    if (argc > 1 && strcmp(argv[1], "children") == 0) {
        self_path = "/proc/self/exe";
        static char path[4096];
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n > 0) { path[n] = 0; self_path = path; }
        children(argc > 2 ? argv[2] : "");
        return finish();
    }
    if (argc > 1 && strcmp(argv[1], "children-child") == 0) { children_child(); return finish(); }
    int listeners[3] = {listener(AF_INET6, port_of('A')), listener(AF_INET6, port_of('B')),
                        listener(AF_INET, port_of('C'))};
    for (int i = 1; i < argc; i++) one_case(argv[i], listeners);
    for (int i = 0; i < 3; i++) {
        if (getenv("SCOPE_LISTENERS_UNTOUCHED")) expect_kernel_defaults("listener left alone (configured per connection)", listeners[i]);
        close(listeners[i]);
    }
    return finish();
}
