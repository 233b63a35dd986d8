/* For many_objects_test: the address this object's GOT holds for socket, as the loader bound it. */
#include <sys/socket.h>

void *slot_socket(void) { return (void *)&socket; }
int slot_make_socket(void) { return socket(AF_INET, SOCK_STREAM, 0); }
