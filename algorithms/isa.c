/* isa.c - see isa.h. */
#include "isa.h"

#include <stdatomic.h>
#include <strings.h>

/* -1 until decided; then an enum dcqb_isa. Relaxed atomics: every thread that reads it sees
 * either -1 (and decides the same way) or the decided value. */
static _Atomic int isa_now = -1;

enum dcqb_isa dcqb_isa_best(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return DCQB_ISA_AVX512;
    if (__builtin_cpu_supports("avx2")) return DCQB_ISA_AVX2;
#endif
    return DCQB_ISA_SSE2;
}

const char *dcqb_isa_name(enum dcqb_isa isa)
{
    switch (isa) {
    case DCQB_ISA_AVX512: return "avx512";
    case DCQB_ISA_AVX2: return "avx2";
    default: return "sse2";
    }
}

/* name -> path, or -1 */
static int isa_parse(const char *name)
{
    if (strcasecmp(name, "native") == 0 || !*name) return (int)dcqb_isa_best();
    for (int i = DCQB_ISA_SSE2; i <= DCQB_ISA_AVX512; i++)
        if (strcasecmp(name, dcqb_isa_name((enum dcqb_isa)i)) == 0) return i;
    return -1;
}

int dcqb_isa_set(const char *name, struct dcqb_err *err)
{
    int want = isa_parse(name ? name : "");
    if (want < 0)
        return DCQB_FAIL(err, DCQB_EINVAL,
                         "DCQB_ISA = '%s': expected avx512, avx2, sse2 or native", name);
    if (want > (int)dcqb_isa_best())
        return DCQB_FAIL(err, DCQB_EINVAL, "DCQB_ISA = '%s': this CPU's best path is %s", name,
                         dcqb_isa_name(dcqb_isa_best()));
    atomic_store_explicit(&isa_now, want, memory_order_relaxed);
    return DCQB_OK;
}

enum dcqb_isa dcqb_isa(void)
{
    int v = atomic_load_explicit(&isa_now, memory_order_relaxed);
    if (v >= 0) return (enum dcqb_isa)v;
    /* not set by the CLI (a test, a library user): the environment if valid, else the best */
    const char *e = getenv("DCQB_ISA");
    v = e ? isa_parse(e) : -1;
    if (v < 0 || v > (int)dcqb_isa_best()) v = (int)dcqb_isa_best();
    atomic_store_explicit(&isa_now, v, memory_order_relaxed);
    return (enum dcqb_isa)v;
}
