/* A shared library whose constructor calls socket() before kashim's own constructor may have run
 * (DT_NEEDED libraries are initialised before LD_PRELOAD ones). */
#include <sys/socket.h>
int ctor_lib_socket = -2;
__attribute__((constructor)) static void make_socket_early(void) {
    ctor_lib_socket = socket(AF_INET, SOCK_STREAM, 0);
}
