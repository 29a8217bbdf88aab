/* test_oom_readers.c - every reader of a file the tool did not necessarily write, failed at the
 * n-th allocation for every n (alloc_count.h's countdown): each failure is an error, never a
 * crash or a silent success, and leaves nothing allocated. The same loop as the heads' init
 * test in test_heads.c. Off (with a message) where the counter is off, i.e. under ASan. */
#include "test_util.h"

#include "alloc_count.h"
#include "bench.h"
#include "cfg.h"
#include "checkpoint.h"
#include "dsfile.h"
#include "npy.h"
#include "rundir.h"
#include "sweep.h"
#include "train.h"
#include "tsv.h"

static char dir[512];

static const char *path_of(const char *leaf)
{
    static char p[4][700];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, leaf);
    return p[k];
}

static void write_text(const char *leaf, const char *text)
{
    test_write_file(path_of(leaf), text);
}

/* One reader call; frees whatever it returned. */
typedef int (*reader_fn)(void *ctx, struct dcqb_err *err);

static void fail_every_allocation(const char *name, reader_fn fn, void *ctx)
{
    if (!alloc_count_available()) {
        print_message("%s: allocation counter off in this build (ASan): skipped\n", name);
        return;
    }
    long n_benign = 0;
    for (long n = 1;; n++) {
        struct dcqb_err err = {0};
        alloc_count_enable(1);
        alloc_fail_at(n);
        int rc = fn(ctx, &err);
        int fired = alloc_fail_fired();
        long held = alloc_count_outstanding(), calls = alloc_count_get();
        alloc_count_enable(0); /* before any assertion: cmocka allocates too */
        if (held != 0)
            print_error("%s: %ld block(s) left allocated when allocation %ld of %ld failed "
                        "(rc %d: %s)\n", name, held, n, calls, rc, err.msg);
        assert_int_equal(held, 0);
        if (!fired) {
            if (rc != DCQB_OK) print_error("%s: %s\n", name, err.msg);
            assert_int_equal(rc, DCQB_OK);
            print_message("%s: %ld allocations; each failed once, cleanly (%ld of them stdio "
                          "buffers, survived unbuffered)\n", name, calls, n_benign);
            return;
        }
        /* a failed allocation must give an error, with one exception: glibc's stdio falls back
         * to unbuffered I/O when its buffer cannot be allocated, and the read then succeeds */
        if (rc == DCQB_OK) n_benign++;
        else assert_true(err.msg[0] != '\0');
    }
}

static int rd_npy(void *ctx, struct dcqb_err *err)
{
    (void)ctx;
    float *x = NULL;
    int32_t *y = NULL;
    int64_t r, c, n;
    int rc = npy_read_f32(&x, &r, &c, path_of("x.npy"), err);
    free(x);
    if (!rc) rc = npy_read_i32(&y, &n, path_of("y.npy"), err);
    free(y);
    return rc;
}

static int rd_dsfile(void *ctx, struct dcqb_err *err)
{
    (void)ctx;
    float *x = NULL;
    int32_t *y = NULL;
    int64_t r, c;
    int rc = dsfile_read(&x, &y, &r, &c, path_of("d.dcqb"), err);
    free(x);
    free(y);
    return rc;
}

static int rd_runs_tsv(void *ctx, struct dcqb_err *err)
{
    (void)ctx;
    struct tsv t;
    int rc = tsv_load(&t, path_of("runs.tsv"), err);
    if (!rc) tsv_free(&t);
    return rc;
}

static int rd_bench_tsv(void *ctx, struct dcqb_err *err)
{
    (void)ctx;
    struct tsv t;
    int rc = tsv_load(&t, path_of("bench.tsv"), err);
    if (rc) return rc;
    struct bench_row row;
    for (int r = 1; r < t.rows; r++) bench_row_read(&row, &t, r);
    tsv_free(&t);
    return rc;
}

static int rd_ini(void *ctx, struct dcqb_err *err)
{
    (void)ctx;
    struct cfg c = {0};
    int rc = cfg_load_ini(&c, path_of("train.ini"), "train", err);
    cfg_free(&c);
    return rc;
}

static int rd_sweep(void *ctx, struct dcqb_err *err)
{
    (void)ctx;
    struct sweep s;
    int rc = sweep_load(&s, path_of("s.conf"), err);
    if (!rc) sweep_free(&s);
    return rc;
}

static int rd_record(void *ctx, struct dcqb_err *err)
{
    (void)ctx;
    static struct rundir_record rec;
    return rundir_record_read(&rec, dir, RUNDIR_SUMMARY, err);
}

static int rd_ckpt(void *ctx, struct dcqb_err *err)
{
    return trainer_load(ctx, path_of("c.ckpt"), err);
}

static void test_readers_fail_cleanly(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/oom", test_tmpdir());
    (void)!system("mkdir -p build/tmp-tests/oom");
    struct dcqb_err err = {0};
    float x[12];
    int32_t y[3] = {0, 1, 2};
    for (int i = 0; i < 12; i++) x[i] = (float)i * 0.5f;
    assert_int_equal(npy_write_f32(path_of("x.npy"), x, 3, 4, &err), DCQB_OK);
    assert_int_equal(npy_write_i32(path_of("y.npy"), y, 3, &err), DCQB_OK);
    assert_int_equal(dsfile_write(path_of("d.dcqb"), x, y, 3, 4, &err), DCQB_OK);
    write_text("runs.tsv", "schema\trun_id\tstatus\n2\t0123456789abcdef\tok\n2\tx\tfail\n");
    struct sbuf b = {0};
    sb_str(&b, bench_tsv_header());
    sb_str(&b, "\n");
    struct bench_row row;
    memset(&row, 0, sizeof row);
    bench_row_format(&b, &row);
    assert_false(b.oom);
    write_text("bench.tsv", b.p);
    sb_free(&b);
    write_text("train.ini", "[train]\nsteps = 10\nlr = 0.1\nhead = full\n[eval]\nnet = ema\n");
    write_text("s.conf", "[sweep]\nname = oom\n[base]\nsteps = 10\nseed = 1, 2\n"
                         "[head.full]\n[head.dcq]\nratio = 0.5\n[data.a]\nnoise = 0.1\n"
                         "[data.b]\nnoise = 0.2\n[tune]\ngrid.lr = 0.1, 0.2\nseed = 7\n"
                         "[head.random]\ntune = 1\ndata = b\n");
    write_text("summary.json", "{\"status\": \"ok\", \"steps\": 10, \"digest\": \"00c0ffee\"}\n");

    fail_every_allocation("npy", rd_npy, NULL);
    fail_every_allocation("dsfile", rd_dsfile, NULL);
    fail_every_allocation("runs.tsv", rd_runs_tsv, NULL);
    fail_every_allocation("bench.tsv", rd_bench_tsv, NULL);
    fail_every_allocation("train INI", rd_ini, NULL);
    fail_every_allocation("sweep file", rd_sweep, NULL);
    fail_every_allocation("summary.json", rd_record, NULL);

    /* the checkpoint: written by a tiny run, read back into a trainer set up outside the
     * counted window */
    struct cfg c = {0};
    static const char *const kv[][2] = {{"head", "full"}, {"profile", "uniform"},
                                        {"uniform_n", "4"}, {"ids", "8"}, {"batch", "16"},
                                        {"hidden", "8"}, {"dim", "8"}, {"steps", "3"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) cfg_set(&c, kv[i][0], kv[i][1], "t", 1, NULL);
    struct trainer tr;
    struct train_result res;
    assert_int_equal(trainer_setup(&tr, &c, &err), DCQB_OK);
    cfg_free(&c);
    assert_int_equal(trainer_run(&tr, NULL, path_of("c.ckpt"), NULL, NULL, NULL, &res, &err),
                     DCQB_OK);
    fail_every_allocation("checkpoint", rd_ckpt, &tr);
    trainer_free(&tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_readers_fail_cleanly)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
