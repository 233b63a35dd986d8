/* A library in a DEEPBIND tree that brings its own socket() (as a SOCKS or tracing library would):
 * the tree binds to it, and kashim must leave that choice alone. */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>

int socket(int domain, int type, int protocol) { return (int)syscall(SYS_socket, domain, type, protocol); }
