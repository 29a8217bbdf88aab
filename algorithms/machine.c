/* machine.c - see machine.h. */
#define _DEFAULT_SOURCE /* sysconf's cache names */
#include "machine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct dcqb_machine mach;
static pthread_once_t mach_once = PTHREAD_ONCE_INIT;

/* first line of path into buf (newline cut); 0, or -1 */
static int read_line(char *buf, size_t n, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *r = fgets(buf, (int)n, f);
    fclose(f);
    if (!r) return -1;
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

/* "48K", "1024K", "32M" -> bytes; 0 when malformed */
static int64_t size_bytes(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0) return 0;
    if (*end == 'K') return v * 1024;
    if (*end == 'M') return v * 1024 * 1024;
    if (*end == 'G') return v * 1024 * 1024 * 1024;
    return *end ? 0 : v;
}

static void caches_sysfs(void)
{
    for (int i = 0; i < 16; i++) {
        char path[96], lv[16], ty[32], sz[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if (read_line(lv, sizeof lv, path)) break;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (read_line(ty, sizeof ty, path)) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (read_line(sz, sizeof sz, path)) continue;
        if (strcmp(ty, "Instruction") == 0) continue;
        int64_t b = size_bytes(sz);
        switch (atoi(lv)) {
        case 1: mach.l1d_bytes = b; break;
        case 2: mach.l2_bytes = b; break;
        default: if (b > mach.l3_bytes) mach.l3_bytes = b; break;
        }
    }
}

static void detect(void)
{
    snprintf(mach.cpu_model, sizeof mach.cpu_model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                const char *v = strchr(line, ':');
                if (v) {
                    v += 1 + strspn(v + 1, " \t");
                    snprintf(mach.cpu_model, sizeof mach.cpu_model, "%.*s",
                             (int)strcspn(v, "\n"), v);
                }
                break;
            }
        fclose(f);
    }
    caches_sysfs();
    /* sysconf where sysfs said nothing (its L3 can be wrong under a hypervisor: sysfs first) */
#ifdef _SC_LEVEL1_DCACHE_SIZE
    if (!mach.l1d_bytes && sysconf(_SC_LEVEL1_DCACHE_SIZE) > 0)
        mach.l1d_bytes = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    if (!mach.l2_bytes && sysconf(_SC_LEVEL2_CACHE_SIZE) > 0)
        mach.l2_bytes = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (!mach.l3_bytes && sysconf(_SC_LEVEL3_CACHE_SIZE) > 0)
        mach.l3_bytes = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    mach.cpus = n > 0 ? (int)n : 1;
}

const struct dcqb_machine *dcqb_machine(void)
{
    pthread_once(&mach_once, detect);
    return &mach;
}
