/* provenance.h - where a number came from: git revision, compiler, flags, library versions,
 * BLAS threads, host, the machine (CPU, caches, ISA path: an object "machine"), UTC time. Written with every run (docs/ARCHITECTURE.md §5). */
#ifndef DCQB_PROVENANCE_H
#define DCQB_PROVENANCE_H

#include "jsonw.h"

/* Write the provenance members into an open JSON object. */
void provenance_write(struct jsonw *w, int threads, unsigned long long seed);
/* Peak resident set size of this process in MiB. */
double provenance_peak_rss_mb(void);
/* Short git revision (with -dirty) this binary was built from. */
const char *provenance_git_rev(void);

#endif
