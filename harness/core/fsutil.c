/* fsutil.c - see fsutil.h. */
#include "fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

int fs_lock_try(int *fd, int *busy, const char *path, struct dcqb_err *err)
{
    *fd = -1;
    *busy = 0;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", path, strerror(errno));
    int hi = fcntl(f, F_DUPFD_CLOEXEC, 10);
    close(f);
    if (hi < 0) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot dup: %s", path, strerror(errno));
    int rc;
    while ((rc = flock(hi, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {}
    if (rc == 0) {
        *fd = hi;
        return DCQB_OK;
    }
    int e = errno;
    close(hi);
    if (e == EWOULDBLOCK) {
        *busy = 1;
        return DCQB_OK;
    }
    return DCQB_FAIL(err, DCQB_EIO, "%s: cannot lock: %s", path, strerror(e));
}

int fs_move_aside(char *aside, size_t an, int *moved, const char *dir, const char *const *names,
                  int n, struct dcqb_err *err)
{
    char from[4096], to[4200], stamp[32];
    aside[0] = '\0';
    *moved = 0;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    for (int i = 0; i < n; i++) {
        if (snprintf(from, sizeof from, "%s/%s", dir, names[i]) >= (int)sizeof from)
            return DCQB_FAIL(err, DCQB_EINVAL, "path too long: %s/%s", dir, names[i]);
        struct stat st;
        if (lstat(from, &st) != 0) continue;
        if (!aside[0]) { /* first entry to move: make the folder */
            for (int k = 1;; k++) {
                int w = k == 1 ? snprintf(aside, an, "%s/aside-%s", dir, stamp)
                               : snprintf(aside, an, "%s/aside-%s-%d", dir, stamp, k);
                if (w < 0 || (size_t)w >= an)
                    return DCQB_FAIL(err, DCQB_EINVAL, "path too long: %s/aside-", dir);
                if (mkdir(aside, 0777) == 0) break;
                if (errno != EEXIST || k > 1000)
                    return DCQB_FAIL(err, DCQB_EIO, "%s: cannot create: %s", aside,
                                     strerror(errno));
            }
        }
        /* names are leaves or "sub/leaf": keep the relative path flat with '_' */
        snprintf(to, sizeof to, "%s/", aside);
        size_t l = strlen(to);
        for (const char *q = names[i]; *q && l + 1 < sizeof to; q++) to[l++] = *q == '/' ? '_' : *q;
        to[l] = '\0';
        if (rename(from, to) != 0)
            return DCQB_FAIL(err, DCQB_EIO, "cannot move %s aside to %s: %s", from, to,
                             strerror(errno));
        (*moved)++;
    }
    return DCQB_OK;
}

double fs_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    double kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024.0;
}
