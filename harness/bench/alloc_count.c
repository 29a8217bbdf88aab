/* alloc_count.c - allocation-call counter and fault injector (see alloc_count.h).
 *
 * The one place with mutable globals in the project: a counter an allocator wrapper can reach
 * has to be global. It is instrumentation only (never read by any algorithm), off by default,
 * and atomically updated, so results never depend on it. OpenBLAS's own threads go through the
 * same entry points, so a BLAS that allocated per call would be counted too.
 */
#include "alloc_count.h"

#include <errno.h>
#include <malloc.h>
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
static long count;       /* calls */
static long outstanding; /* successful allocations - frees of non-NULL pointers */
static long bytes;       /* usable bytes of those allocations - of those frees */
static long fail_in;     /* > 0: the fail_in-th call from arming fails */
static int fired;

int alloc_count_available(void) { return ALLOC_COUNT_ON; }

void alloc_count_enable(int on)
{
    __atomic_store_n(&count, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&outstanding, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&bytes, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fail_in, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fired, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&counting, on, __ATOMIC_SEQ_CST);
}

long alloc_count_get(void) { return __atomic_load_n(&count, __ATOMIC_SEQ_CST); }

long alloc_count_outstanding(void) { return __atomic_load_n(&outstanding, __ATOMIC_SEQ_CST); }

long alloc_count_bytes(void) { return __atomic_load_n(&bytes, __ATOMIC_SEQ_CST); }

void alloc_fail_at(long n)
{
    __atomic_store_n(&fired, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fail_in, n > 0 ? n : 0, __ATOMIC_SEQ_CST);
}

int alloc_fail_fired(void) { return __atomic_load_n(&fired, __ATOMIC_SEQ_CST); }

#if ALLOC_COUNT_ON
/* glibc's exported implementations (GLIBC_2.2.5). */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

/* Count one call; 1 when it is the one armed to fail. */
static int tick(void)
{
    if (!__atomic_load_n(&counting, __ATOMIC_RELAXED)) return 0;
    __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED);
    long f = __atomic_load_n(&fail_in, __ATOMIC_RELAXED);
    if (f > 0 && __atomic_sub_fetch(&fail_in, 1, __ATOMIC_SEQ_CST) == 0) {
        __atomic_store_n(&fired, 1, __ATOMIC_SEQ_CST);
        return 1;
    }
    return 0;
}

/* A block counted in (d = 1) or out (d = -1); p is live (before free). A block allocated before
 * counting started and freed while counting subtracts its size too: measure open-and-keep. */
static void held(void *p, long d)
{
    if (p && __atomic_load_n(&counting, __ATOMIC_RELAXED)) {
        __atomic_fetch_add(&outstanding, d, __ATOMIC_RELAXED);
        __atomic_fetch_add(&bytes, d * (long)malloc_usable_size(p), __ATOMIC_RELAXED);
    }
}

void *malloc(size_t n)
{
    if (tick()) return NULL;
    void *p = __libc_malloc(n);
    held(p, 1);
    return p;
}

void *calloc(size_t n, size_t m)
{
    if (tick()) return NULL;
    void *p = __libc_calloc(n, m);
    held(p, 1);
    return p;
}

/* A failed realloc leaves p allocated; realloc(p, 0) frees p (glibc) and returns NULL. */
void *realloc(void *p, size_t n)
{
    if (tick()) return NULL;
    long before = p && __atomic_load_n(&counting, __ATOMIC_RELAXED) ? (long)malloc_usable_size(p)
                                                                   : 0;
    void *q = __libc_realloc(p, n);
    if (!p) held(q, 1);
    else if (!n && !q && __atomic_load_n(&counting, __ATOMIC_RELAXED)) {
        __atomic_fetch_add(&outstanding, -1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&bytes, -before, __ATOMIC_RELAXED);
    } else if (q && __atomic_load_n(&counting, __ATOMIC_RELAXED))
        __atomic_fetch_add(&bytes, (long)malloc_usable_size(q) - before, __ATOMIC_RELAXED);
    return q;
}

void free(void *p)
{
    held(p, -1);
    __libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n);
int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    if (tick()) return ENOMEM;
    void *p = __libc_memalign(align, n);
    if (!p && n) return ENOMEM;
    held(p, 1);
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
    if (tick()) return NULL;
    void *p = __libc_memalign(align, n);
    held(p, 1);
    return p;
}
#endif
