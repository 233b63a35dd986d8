/* socket() from a shared library's constructor, i.e. before main and possibly before kashim's
 * constructor: no crash, and the socket is configured. */
#include "common.h"
extern int ctor_lib_socket;

int main(void) {
    char why[64];
    snprintf(why, sizeof why, "fd=%d", ctor_lib_socket);
    result(ctor_lib_socket >= 0, "socket() from a library constructor succeeds", why);
    expect_configured("socket() from a library constructor is configured", ctor_lib_socket);
    return finish();
}
