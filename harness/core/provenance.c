/* provenance.c - see provenance.h. */
#include "provenance.h"

#include <cblas.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <zlib.h>

#include <gsl/gsl_version.h>

#include "version.h"

const char *provenance_git_rev(void) { return DCQB_GIT_REV; }

double provenance_peak_rss_mb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

static void cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ') c++;
                c[strcspn(c, "\n")] = '\0';
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

void provenance_write(struct jsonw *w, int threads, unsigned long long seed)
{
    char cpu[256], when[64];
    struct utsname u;
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    cpu_model(cpu, sizeof cpu);
    jsonw_str(w, "dcqbench_version", DCQB_VERSION);
    jsonw_str(w, "git_rev", DCQB_GIT_REV);
    jsonw_int(w, "git_dirty", strstr(DCQB_GIT_REV, "dirty") != NULL);
    jsonw_str(w, "compiler", DCQB_CC);
    jsonw_str(w, "cflags", DCQB_CFLAGS);
    jsonw_str(w, "gsl_version", gsl_version);
    jsonw_str(w, "openblas_config", openblas_get_config());
    jsonw_str(w, "openblas_core", openblas_get_corename());
    jsonw_str(w, "zlib_version", zlibVersion());
    jsonw_int(w, "blas_threads", threads);
    const char *e1 = getenv("OPENBLAS_NUM_THREADS"), *e2 = getenv("OMP_NUM_THREADS");
    jsonw_str(w, "env_OPENBLAS_NUM_THREADS", e1 ? e1 : "");
    jsonw_str(w, "env_OMP_NUM_THREADS", e2 ? e2 : "");
    const char *e3 = getenv("OPENBLAS_CORETYPE");
    jsonw_str(w, "env_OPENBLAS_CORETYPE", e3 ? e3 : "");
    jsonw_int(w, "seed", (long long)seed);
    if (uname(&u) == 0) {
        jsonw_str(w, "host", u.nodename);
        jsonw_str(w, "kernel", u.release);
        jsonw_str(w, "arch", u.machine);
    }
    jsonw_str(w, "cpu", cpu);
    jsonw_str(w, "utc_start", when);
}
