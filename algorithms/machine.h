/* machine.h - what this process runs on: the CPU model, its cache sizes and the kernels' ISA
 * path (docs/ARCHITECTURE.md "Machine"). Every timing is recorded with these (bench.tsv,
 * provenance.json, summary.json), since machines of the same kind differ (an AMD Zen core with
 * 1 MiB of L2 and AVX2 only, an Intel Xeon with 2 MiB and AVX-512); the cache sizes also set
 * the kernels' block sizes (docs/METHOD.md §6).
 */
#ifndef DCQB_MACHINE_H
#define DCQB_MACHINE_H

#include <stdint.h>

struct dcqb_machine {
    char cpu_model[128]; /* /proc/cpuinfo "model name", or "unknown" */
    int64_t l1d_bytes;   /* per core; 0 when unknown */
    int64_t l2_bytes;    /* per core (what one thread's blocks can keep); 0 when unknown */
    int64_t l3_bytes;    /* the last level, as shared; 0 when unknown */
    int cpus;            /* online CPUs */
};

/* Detected once per process (thread-safe); never NULL. Sources: Linux sysfs
 * (/sys/devices/system/cpu/cpu0/cache/index* level, type, size), then sysconf, else 0. */
const struct dcqb_machine *dcqb_machine(void);

#endif
