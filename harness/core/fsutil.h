/* fsutil.h - the few file-system helpers every command needs: create a directory path, test a
 * path. One place, so error messages and permissions agree everywhere. */
#ifndef DCQB_FSUTIL_H
#define DCQB_FSUTIL_H

#include "dcqb.h"

/* mkdir -p: create `path` and its missing parents (0777 before umask). DCQB_EIO names the
 * component that could not be created; DCQB_EINVAL if the path is too long. */
int fs_mkdir_p(const char *path, struct dcqb_err *err);

/* Non-zero if `path` exists. */
int fs_exists(const char *path);

/* MemAvailable of /proc/meminfo in bytes, 0 if unreadable (the memory plan, the benchmark). */
double fs_mem_available(void);

/* Try to take an exclusive flock() on `path` (created if missing) without waiting. Locked:
 * *fd >= 0 (close-on-exec, numbered >= 10 so a child can be handed it at a low number), *busy 0.
 * Held by another open file (another process, or a child of one that died): *fd -1, *busy 1.
 * The kernel releases the lock when every process holding the descriptor is gone. */
int fs_lock_try(int *fd, int *busy, const char *path, struct dcqb_err *err);

/* Move the entries of dir named in names[0..n) that exist into a new folder
 * dir/aside-YYYYMMDDTHHMMSSZ (UTC; "-2", "-3"... when taken), never deleting anything. Its path
 * into aside (empty when nothing existed to move), *moved the number of entries moved. */
int fs_move_aside(char *aside, size_t an, int *moved, const char *dir, const char *const *names,
                  int n, struct dcqb_err *err);

#endif
