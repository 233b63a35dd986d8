/* A library that makes TCP sockets itself, as PHP's sockets extension or libpq do. deepbind_test
 * opens it with RTLD_DEEPBIND, so its socket() binds to libc (or to its own tree's socket()). */
#include <sys/socket.h>

int deep_socket(void) { return socket(AF_INET, SOCK_STREAM, 0); }
