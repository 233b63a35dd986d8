/* setsockopt(): the program's own keepalive choices win over kashim's, at connect() and accept()
 * too; with KASHIM_FORCE (argv[1] == "force") kashim's values stand and the program's calls still
 * succeed. Options that merely share a number with a keepalive option at another level are
 * neither blocked nor mistaken for keepalive. */
#include "common.h"
#include <sys/syscall.h>

static int set_int(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value);
}

int main(int argc, char **argv) {
    int force = argc > 1 && strcmp(argv[1], "force") == 0;
    int port;
    int listener = plain_listener(AF_INET, -1, &port);
    char why[160];

    /* The program turns keepalive off on a socket kashim configured, then connects. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    errno = 4242;
    int rc = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
    snprintf(why, sizeof why, "rc=%d errno=%d", rc, errno);
    result(rc == 0 && errno == 4242, "program's SO_KEEPALIVE=0 call succeeds and keeps errno", why);
    connect_to(fd, AF_INET, port);
    if (force)
        expect_configured("FORCE: keepalive stays on despite the program's SO_KEEPALIVE=0", fd);
    else
        expect_keepalive_off("program's SO_KEEPALIVE=0 stands after connect()", fd);
    close(fd);

    /* The program sets its own idle time. */
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    rc = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 300);
    result(rc == 0, "program's TCP_KEEPIDLE=300 call succeeds", strerror(errno));
    connect_to(fd, AF_INET6, 1); /* refused: still must not re-apply anything */
    int idle = int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE);
    snprintf(why, sizeof why, "TCP_KEEPIDLE=%d", idle);
    if (force)
        result(idle == env_int("EXPECT_IDLE", 60), "FORCE: kashim's idle stands against TCP_KEEPIDLE=300", why);
    else
        result(idle == 300, "program's TCP_KEEPIDLE=300 stands", why);
    close(fd);

    /* A socket kashim did not create (raw system call) where the program chose keepalive itself
     * before connect(): without FORCE kashim must not override it at connect(). */
    fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 321);
    connect_to(fd, AF_INET, port);
    idle = int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE);
    snprintf(why, sizeof why, "TCP_KEEPIDLE=%d", idle);
    if (force)
        result(idle == env_int("EXPECT_IDLE", 60), "FORCE: unconfigured socket gets kashim's idle at connect()", why);
    else
        result(idle == 321, "program's own idle on an unconfigured socket survives connect()", why);
    close(fd);

    /* Listener with the program's own keepalive off: accepted sockets keep the program's choice. */
    int own = socket(AF_INET, SOCK_STREAM, 0);
    set_int(own, SOL_SOCKET, SO_KEEPALIVE, 0);
    int own_port;
    plain_listener(AF_INET, own, &own_port);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    connect_to(client, AF_INET, own_port);
    int accepted = accept4(own, NULL, NULL, SOCK_CLOEXEC);
    if (force)
        expect_configured("FORCE: accepted socket of a listener the program turned off has keepalive", accepted);
    else
        expect_keepalive_off("accepted socket of a listener the program turned off stays off", accepted);
    close(accepted);
    close(client);
    close(own);

    /* Level confusion: SOL_SOCKET option 6 is SO_BROADCAST, not TCP_KEEPCNT; IPPROTO_TCP option 9
     * is TCP_DEFER_ACCEPT, not SO_KEEPALIVE. Both must really be set, even under FORCE, and must
     * not make kashim think the program chose its own keepalive. */
    fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    rc = set_int(fd, SOL_SOCKET, SO_BROADCAST, 1);
    int broadcast = int_opt(fd, SOL_SOCKET, SO_BROADCAST);
    snprintf(why, sizeof why, "rc=%d SO_BROADCAST=%d", rc, broadcast);
    result(rc == 0 && broadcast == 1, "SOL_SOCKET option 6 (SO_BROADCAST) is really set", why);
    rc = set_int(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5);
    int defer = int_opt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT);
    snprintf(why, sizeof why, "rc=%d TCP_DEFER_ACCEPT=%d", rc, defer);
    result(rc == 0 && defer > 0, "IPPROTO_TCP option 9 (TCP_DEFER_ACCEPT) is really set", why);
    connect_to(fd, AF_INET, port);
    expect_configured("same-numbered options at other levels do not stop kashim at connect()", fd);
    close(fd);

    /* Malformed keepalive calls get the kernel's own errors, also under FORCE. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    char one_byte = 1;
    rc = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one_byte, 1);
    int err = errno;
    snprintf(why, sizeof why, "rc=%d errno=%d", rc, err);
    result(rc == -1 && err == EINVAL, "SO_KEEPALIVE with a 1-byte value gives EINVAL", why);
    rc = setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, NULL, sizeof(int));
    err = errno;
    snprintf(why, sizeof why, "rc=%d errno=%d", rc, err);
    result(rc == -1 && err == EFAULT, "TCP_KEEPIDLE with a NULL value gives EFAULT", why);
    rc = set_int(-1, SOL_SOCKET, SO_KEEPALIVE, 1);
    err = errno;
    snprintf(why, sizeof why, "rc=%d errno=%d", rc, err);
    result(rc == -1 && err == EBADF, "SO_KEEPALIVE on fd -1 gives EBADF", why);
    rc = set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 500);
    err = errno;
    snprintf(why, sizeof why, "rc=%d errno=%d", rc, err);
    result(rc == -1 && err == EINVAL, "TCP_KEEPCNT=500 gives the kernel's EINVAL", why);
    /* A wild pointer: the kernel answers EFAULT; kashim must never read it itself (it would crash
     * the program under FORCE, where it once checked the value before the kernel did). */
    rc = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, (void *)16, sizeof(int));
    err = errno;
    snprintf(why, sizeof why, "rc=%d errno=%d", rc, err);
    result(rc == -1 && err == EFAULT, "SO_KEEPALIVE with pointer 16 gives EFAULT, no crash", why);
    rc = setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, (void *)16, sizeof(int));
    err = errno;
    snprintf(why, sizeof why, "rc=%d errno=%d", rc, err);
    result(rc == -1 && err == EFAULT, "TCP_KEEPIDLE with pointer 16 gives EFAULT, no crash", why);
    if (force)
        expect_configured("FORCE: kashim's values stand after the rejected calls", fd);
    close(fd);
    close(listener);
    return finish();
}
