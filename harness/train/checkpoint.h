/* checkpoint.h - a trainer's resumable state in one file: zlib-compressed, CRC32-checked and
 * tied to the hash of the config that defines the run, so a resumed run finishes with the
 * digest of an uninterrupted one (docs/METHOD.md §7; docs/ARCHITECTURE.md §5). The layout is
 * described once, in checkpoint.c. */
#ifndef DCQB_CHECKPOINT_H
#define DCQB_CHECKPOINT_H

#include "dcqb.h"

struct trainer;

/* Write tr's state at step tr->t to `path` (through path.tmp and a rename: a crash never
 * leaves half a checkpoint). */
int trainer_save(const struct trainer *tr, const char *path, struct dcqb_err *err);
/* Restore a state written by trainer_save into a trainer set up from the same config
 * (DCQB_EINVAL naming the config hash otherwise; DCQB_EFORMAT for a corrupt or foreign file). */
int trainer_load(struct trainer *tr, const char *path, struct dcqb_err *err);

#endif
