/* Prints this process's memory right at main(), for scripts/bench.sh: "VmRSS RssAnon RssFile" in kB
 * from /proc/self/status. RssAnon is private memory (what each process really costs); RssFile is
 * mostly shared library pages, shared with every other process using the same files. */
#include <stdio.h>
#include <string.h>

int main(void)
{
    char line[256];
    long rss = -1, anon = -1, file = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) { perror("/proc/self/status"); return 2; }
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) sscanf(line + 6, "%ld", &rss);
        else if (strncmp(line, "RssAnon:", 8) == 0) sscanf(line + 8, "%ld", &anon);
        else if (strncmp(line, "RssFile:", 8) == 0) sscanf(line + 8, "%ld", &file);
    }
    fclose(f);
    if (rss < 0 || anon < 0 || file < 0) return 2;
    printf("%ld %ld %ld\n", rss, anon, file);
    return 0;
}
