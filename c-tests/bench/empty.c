/* The smallest C program: start-up cost only. With an argument ("malloc") it also makes one heap
 * allocation, as nearly every real program does, so glibc's one-time malloc set-up (brk, and
 * getrandom for the tcache key) is part of the program's own start-up. */
#include <stdlib.h>

int main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        void *volatile p = malloc(1);
        free(p);
    }
    return 0;
}
