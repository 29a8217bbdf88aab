/* fuzz_ckpt.c - the checkpoint reader (harness/train/checkpoint.h) into a trainer set up once
 * from the configuration the seed corpus was written with (tests/fuzz/README.md), so inputs that
 * keep its config hash reach the payload checks. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "checkpoint.h"
#include "train.h"

/* The seed corpus's run: `dcqbench train` with these keys (tests/fuzz/README.md). */
static const char *const ckpt_keys[][2] = {
    {"head", "full"}, {"profile", "uniform"}, {"uniform_n", "4"}, {"ids", "8"},
    {"batch", "16"}, {"hidden", "8"}, {"dim", "8"}, {"steps", "6"}, {"ckpt_every", "3"},
};

static struct trainer fz_tr;

static void drop_trainer(void) { trainer_free(&fz_tr); } /* so LeakSanitizer sees no leak */

static struct trainer *fuzz_trainer(void)
{
    static int state; /* 0 not tried, 1 ready, -1 failed */
    if (state == 0) {
        struct cfg c = {0};
        struct dcqb_err err = {0};
        for (size_t i = 0; i < sizeof ckpt_keys / sizeof ckpt_keys[0]; i++)
            cfg_set(&c, ckpt_keys[i][0], ckpt_keys[i][1], "fuzz", 1, NULL);
        memset(&fz_tr, 0, sizeof fz_tr);
        state = trainer_setup(&fz_tr, &c, &err) == DCQB_OK ? 1 : -1;
        cfg_free(&c);
        if (state < 0) abort(); /* the harness itself is broken: say so loudly */
        atexit(drop_trainer);
    }
    return &fz_tr;
}

int fuzz_one(const uint8_t *data, size_t n)
{
    struct trainer *tr = fuzz_trainer();
    const char *path = fuzz_file(data, n);
    if (!*path) return 0;
    struct dcqb_err err = {0};
    (void)trainer_load(tr, path, &err);
    return 0;
}
