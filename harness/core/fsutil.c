/* fsutil.c - see fsutil.h. */
#include "fsutil.h"

#include <errno.h>
#include <sys/stat.h>

int fs_mkdir_p(const char *path, struct dcqb_err *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return DCQB_FAIL(err, DCQB_EINVAL, "path too long: %.60s...", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char ch = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return DCQB_FAIL(err, DCQB_EIO, "%s: cannot create directory: %s", buf,
                                 strerror(errno));
            *p = ch;
            if (!ch) break;
        }
    }
    return DCQB_OK;
}

int fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}
