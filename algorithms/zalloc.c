/* zalloc.c - dcqb_zalloc (include/dcqb.h): zeroed, pre-touched, huge-page-advised arenas. */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE (Linux) */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dcqb.h"

#define ZALLOC_HUGE ((size_t)8 << 20)  /* advise huge pages from this size on */
#define ZALLOC_ALIGN ((size_t)2 << 20) /* x86-64 huge page */

void *dcqb_zalloc(size_t bytes)
{
    void *p = NULL;
    if (bytes >= ZALLOC_HUGE) {
        if (posix_memalign(&p, ZALLOC_ALIGN, bytes)) return NULL;
#ifdef MADV_HUGEPAGE
        (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice only: a refusal changes nothing */
#endif
    } else {
        p = malloc(bytes ? bytes : 1);
    }
    if (p) memset(p, 0, bytes);
    return p;
}
