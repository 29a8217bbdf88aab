/* provenance.c - see provenance.h. */
#include "provenance.h"

#include <cblas.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <zlib.h>

#include <gsl/gsl_version.h>

#include "isa.h"
#include "machine.h"
#include "version.h"

const char *provenance_git_rev(void) { return DCQB_GIT_REV; }

double provenance_peak_rss_mb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

/* The "machine" member: an object of what the timings ran on (docs/ARCHITECTURE.md "Machine"):
 * the CPU model, its per-core L1d and L2, the L3, the online CPUs, and the kernels' ISA path in
 * use and the best this CPU has. jsonw writes flat objects; this nests one by hand. */
static void machine_write(struct jsonw *w)
{
    const struct dcqb_machine *m = dcqb_machine();
    jsonw_key(w, "machine");
    struct jsonw o;
    jsonw_begin(&o, w->f);
    jsonw_str(&o, "cpu_model", m->cpu_model);
    jsonw_int(&o, "l1d_bytes", (long long)m->l1d_bytes);
    jsonw_int(&o, "l2_bytes", (long long)m->l2_bytes);
    jsonw_int(&o, "l3_bytes", (long long)m->l3_bytes);
    jsonw_int(&o, "cpus", m->cpus);
    jsonw_str(&o, "isa", dcqb_isa_name(dcqb_isa()));
    jsonw_str(&o, "isa_best", dcqb_isa_name(dcqb_isa_best()));
    fputs("\n  }", w->f);
}

void provenance_write(struct jsonw *w, int threads, unsigned long long seed)
{
    char when[64];
    struct utsname u;
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
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
    jsonw_str(w, "cpu", dcqb_machine()->cpu_model);
    machine_write(w);
    jsonw_str(w, "utc_start", when);
}
