/* isa.h - the instruction-set path of the hand-vectorised kernels (docs/ARCHITECTURE.md
 * "ISA paths").
 *
 * Every hot elementwise kernel (the softmax's exp, scale and clamp, the row SGD, the renderer)
 * is compiled three times from one body: for AVX-512F, for AVX2 and for the x86-64 baseline
 * (SSE2). The body uses only IEEE +, -, *, /, conversions, compares and bit moves, never a fused
 * multiply-add (-ffp-contract=off), so all three give identical bits: the path changes speed,
 * never a result (tests/test_isa.c). Which variant runs is decided once per process: the best the
 * CPU supports, or a lower one forced by the environment variable DCQB_ISA (avx512, avx2, sse2 or
 * native), so that every path can be measured and profiled on one machine
 * (`make bench ISA=avx2`).
 *
 * DCQB_ISA_VARIANTS(ret, name, params, args) defines name_avx512, name_avx2 and name_sse2 from
 * `static inline ret name_body params` (which the caller writes first, always_inline) and the
 * dispatcher `ret name params`; declare `static ret name params;` before it for a file-local
 * kernel (the definition then has internal linkage, C11 6.2.2).
 * DCQB_ISA_VARIANTS_VOID does the same for a void kernel.
 * DCQB_ISA_PICK(name, args) is the one dispatch: it calls name_avx512, name_avx2 or name_sse2,
 * for variants generated otherwise (algorithms/ops.c's width-templated kernels) as well.
 */
#ifndef DCQB_ISA_H
#define DCQB_ISA_H

#include "dcqb.h"

enum dcqb_isa { DCQB_ISA_SSE2 = 0, DCQB_ISA_AVX2 = 1, DCQB_ISA_AVX512 = 2 };

/* The path in use: decided at the first call from DCQB_ISA or the CPU, or by dcqb_isa_set. */
enum dcqb_isa dcqb_isa(void);
/* The best path this CPU supports. */
enum dcqb_isa dcqb_isa_best(void);
/* "avx512", "avx2" or "sse2". */
const char *dcqb_isa_name(enum dcqb_isa isa);
/* Force the path by name (avx512, avx2, sse2, native = the best). DCQB_EINVAL for an unknown
 * name or a path the CPU does not have. Call it before any kernel runs (the CLI does, from
 * DCQB_ISA); later calls take effect at the next kernel call. */
int dcqb_isa_set(const char *name, struct dcqb_err *err);

#define DCQB_BODY_ATTR static inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__)
#define DCQB_ISA_PICK(name, args)                                                             \
    (dcqb_isa() == DCQB_ISA_AVX512 ? name##_avx512 args                                       \
     : dcqb_isa() == DCQB_ISA_AVX2 ? name##_avx2 args                                         \
                                   : name##_sse2 args)
#define DCQB_ISA_VARIANTS(ret, name, params, args)                                            \
    __attribute__((target("avx512f"), noinline)) static ret name##_avx512 params              \
    {                                                                                         \
        return name##_body args;                                                              \
    }                                                                                         \
    __attribute__((target("avx2"), noinline)) static ret name##_avx2 params                   \
    {                                                                                         \
        return name##_body args;                                                              \
    }                                                                                         \
    __attribute__((noinline)) static ret name##_sse2 params { return name##_body args; }      \
    ret name params { return DCQB_ISA_PICK(name, args); }
#define DCQB_ISA_VARIANTS_VOID(name, params, args)                                            \
    __attribute__((target("avx512f"), noinline)) static void name##_avx512 params             \
    {                                                                                         \
        name##_body args;                                                                     \
    }                                                                                         \
    __attribute__((target("avx2"), noinline)) static void name##_avx2 params                  \
    {                                                                                         \
        name##_body args;                                                                     \
    }                                                                                         \
    __attribute__((noinline)) static void name##_sse2 params { name##_body args; }            \
    void name params { DCQB_ISA_PICK(name, args); }
#else /* one portable variant */
#define DCQB_ISA_PICK(name, args) name##_sse2 args
#define DCQB_ISA_VARIANTS(ret, name, params, args)                                            \
    ret name params { return name##_body args; }
#define DCQB_ISA_VARIANTS_VOID(name, params, args)                                            \
    void name params { name##_body args; }
#endif

#endif
