/* alloc_count.h - count calls to malloc/calloc/realloc/posix_memalign/aligned_alloc while
 * enabled, to verify that a step loop allocates nothing (issue 7: "nothing allocated inside the
 * step loop"). Implemented by interposing glibc's allocator entry points in the executable
 * (glibc documents replacing malloc by symbol interposition); every call forwards to glibc's
 * own __libc_* functions, so behaviour is unchanged. Under AddressSanitizer (which interposes
 * malloc itself) counting is off and alloc_count_available() returns 0.
 */
#ifndef DCQB_ALLOC_COUNT_H
#define DCQB_ALLOC_COUNT_H

/* 1 when calls are counted in this build. */
int alloc_count_available(void);
/* Reset the counter to 0 and start (on = 1) or stop (on = 0) counting. Thread-safe counter. */
void alloc_count_enable(int on);
/* Calls counted since the last alloc_count_enable(1). */
long alloc_count_get(void);

#endif
