/* fuzz_common.c - the scratch file the path-taking readers read (see fuzz.h). */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *fuzz_file(const uint8_t *data, size_t n)
{
    static char path[512];
    if (!path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/dcqb-fuzz-%ld.in", tmp && *tmp ? tmp : "/tmp",
                 (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f) return "";
    int ok = fwrite(data, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    return ok ? path : "";
}

char *fuzz_text(const uint8_t *data, size_t n)
{
    char *text = malloc(n + 1);
    if (!text) return NULL;
    memcpy(text, data, n);
    text[n] = '\0';
    return text;
}
