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

#endif
