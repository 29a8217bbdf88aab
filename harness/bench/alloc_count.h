/* alloc_count.h - count calls to malloc/calloc/realloc/posix_memalign/aligned_alloc while
 * enabled, to verify that a step loop allocates nothing (docs/METHOD.md §6: nothing allocated
 * inside the step loop); and, for tests, fail the n-th call on purpose and count the blocks
 * still outstanding, to prove that an init cleans up after every failed allocation (the
 * countdown of SQLite's src/test_malloc.c faultsimStep).
 *
 * Implemented by interposing glibc's allocator entry points in the executable (glibc documents
 * replacing malloc by symbol interposition); every call forwards to glibc's own __libc_*
 * functions, so behaviour is unchanged unless a failure is armed. Under AddressSanitizer (which
 * interposes malloc itself) counting is off and alloc_count_available() returns 0.
 *
 * Not part of libdcqb.a: an interposed malloc is a property of a program, not of a library, so
 * only bin/dcqbench (its `bench` command counts) and the test and bench binaries link it.
 */
#ifndef DCQB_ALLOC_COUNT_H
#define DCQB_ALLOC_COUNT_H

/* 1 when calls are counted (and failures can be injected) in this build. */
int alloc_count_available(void);
/* Reset the counters to 0, disarm any failure, and start (on = 1) or stop (on = 0) counting.
 * Thread-safe counters. */
void alloc_count_enable(int on);
/* Calls counted since the last alloc_count_enable(1), failed ones included. */
long alloc_count_get(void);
/* Successful allocations minus frees of non-NULL pointers while counting: 0 after a balanced
 * piece of code that allocated and freed only inside the counted window. */
long alloc_count_outstanding(void);
/* Heap bytes held by blocks allocated while counting minus those freed (glibc's usable size of
 * each block): what a piece of code keeps, e.g. a head after head_open (docs/METHOD.md §6). */
long alloc_count_bytes(void);
/* Make the n-th counted call from now (1 = the next one) fail as if out of memory, once;
 * n <= 0 disarms. Counting must be on for the call to be seen. */
void alloc_fail_at(long n);
/* 1 when the failure armed by alloc_fail_at has happened. */
int alloc_fail_fired(void);

#endif
