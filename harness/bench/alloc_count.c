/* alloc_count.c - allocation-call counter for the benchmark (see alloc_count.h).
 *
 * The one place with mutable globals in the project: a counter an allocator wrapper can reach
 * has to be global. It is instrumentation only (never read by any algorithm), off by default,
 * and atomically updated, so results never depend on it. OpenBLAS's own threads go through the
 * same entry points, so a BLAS that allocated per call would be counted too.
 */
#include "alloc_count.h"

#include <errno.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_COUNT_ON 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_COUNT_ON 0
#endif
#endif
#ifndef ALLOC_COUNT_ON
#define ALLOC_COUNT_ON 1
#endif

static int counting; /* read racily by design: enable/disable happen outside the timed loop */
static long count;

int alloc_count_available(void) { return ALLOC_COUNT_ON; }

void alloc_count_enable(int on)
{
    __atomic_store_n(&count, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&counting, on, __ATOMIC_SEQ_CST);
}

long alloc_count_get(void) { return __atomic_load_n(&count, __ATOMIC_SEQ_CST); }

#if ALLOC_COUNT_ON
/* glibc's exported implementations (GLIBC_2.2.5). */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static void tick(void)
{
    if (__atomic_load_n(&counting, __ATOMIC_RELAXED))
        __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t n)
{
    tick();
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    tick();
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    tick();
    return __libc_realloc(p, n);
}

void free(void *p) { __libc_free(p); }

int posix_memalign(void **out, size_t align, size_t n);
int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    tick();
    void *p = __libc_memalign(align, n);
    if (!p && n) return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
    tick();
    return __libc_memalign(align, n);
}
#endif
