/* test_heads.c - the contract every registered head keeps, checked by one loop over head_list()
 * (in the spirit of ggml's test-backend-ops: one table, every backend, the same properties):
 *
 *   zeroed     head_close on a zeroed handle and ops->free on a zeroed state are no-ops
 *   keys       a bad value for each of the head's keys is refused, the message naming the key
 *              once prefixed by the head ("<head>: <key> = ..."); so are bad sizes
 *   seed       the same seed gives the same digest (after init and after steps); another seed
 *              another digest
 *   borrowed_pool  on a caller's team of 2 threads (cfg.pool): the same losses and digests as
 *              on the head's own team of 2
 *   save_load  save, then load into a fresh handle of another seed: same digest, same bytes
 *              saved again, and a further step gives identical losses and digests
 *   inputs     a batch of 0 or max_batch + 1 rows, a label -1 or C, and a state whose magic is
 *              not the head's are refused, each naming the head and the bad value; the head
 *              still trains and its digest is unchanged afterwards
 *   gradient   d emb (and d W where the head exposes its weights) against central differences
 *              (tests/head_fixture.h fx_gradcheck_tol)
 *   alloc_fail init cleans up when its n-th allocation fails, for every n until init succeeds:
 *              ENOMEM, a zeroed handle and no block left allocated (harness/bench/alloc_count.h);
 *              skipped, visibly, where allocations cannot be counted (AddressSanitizer)
 *
 * Each head needs a row in `rows` below (its gradient tolerance and step, and the keys that make
 * its problem checkable); a registered head without one fails `table`. Head-specific behaviour
 * (references in double, cross-head equivalences) stays in tests/test_head_<name>.c.
 */
#include "head_fixture.h"

#include <gsl/gsl_errno.h>

#include "alloc_count.h"
#include "pool.h"

enum { C = 50, D = 8, B = 4, MAX_HEADS = 16 };

struct row {
    const char *name;
    double tol;          /* gradient tolerance: |a - n| <= tol * max|a| + 1e-2 |n| */
    float eps;           /* finite-difference step, relative to max(|x|, 1) */
    double ratio;        /* cfg->ratio for this head's problem */
    int uses_ratio;      /* the head reads cfg->ratio: (0, 1] is enforced */
    const struct kv *kv; /* keys that make the problem smooth enough to check (s = 8: no
                          * logit saturates in float) */
};

static const struct kv kv_s8[] = {{"s", "8"}, {NULL, NULL}};
static const struct kv kv_dcq[] = {{"s", "8"}, {"queue_len", "11"}, {NULL, NULL}};
static const struct kv kv_sampled[] = {{"s", "8"}, {"sampler", "log_uniform"}, {NULL, NULL}};

static const struct row rows[] = {
    {"full", 2e-3, 1e-3f, 0.1, 0, kv_s8},
    {"random", 2e-3, 1e-3f, 0.3, 1, kv_s8},
    {"dcq", 2e-3, 1e-3f, 0.1, 1, kv_dcq},
    {"sampled", 2e-3, 1e-3f, 0.2, 1, kv_sampled},
};
enum { N_ROWS = sizeof rows / sizeof rows[0] };

static const int32_t Y[B] = {3, 17, 3, 42};
static int32_t counts[C];

struct ctx {
    const struct head_ops *ops;
    const struct row *row; /* NULL: the head has no row */
};

static const struct row *find_row(const char *name)
{
    for (int i = 0; i < N_ROWS; i++)
        if (strcmp(rows[i].name, name) == 0) return &rows[i];
    return NULL;
}

/* The row of this test's head, or the test fails naming the head. */
static const struct row *need_row(void **state)
{
    const struct ctx *c = *state;
    if (!c->row) {
        print_error("head '%s' is registered but has no row in tests/test_heads.c\n",
                    c->ops->name);
        fail();
    }
    return c->row;
}

static struct head_cfg row_cfg(const struct row *r, uint64_t seed, const struct kv *kv)
{
    return fx_cfg(C, D, B, r->ratio, seed, kv ? kv : r->kv, counts);
}

/* One training step on fixed inputs (keys only when the head asks for pairs). */
static float one_step(struct head *h, uint64_t seed, int64_t t)
{
    float emb[B * D], key[B * D], demb[B * D];
    fx_rows(emb, B, D, seed, 1);
    fx_rows(key, B, D, seed + 1000, 1);
    double loss = fx_loss(h, NULL, NULL, C, D, emb, h->req.pairs ? key : NULL, Y, B, demb);
    struct dcqb_err err = {0};
    int rc = head_step(h, 0.1f, t, &err);
    if (rc) print_error("step: %s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    return (float)loss;
}

/* Same digest, or the test fails saying at which point the two heads parted. */
static void assert_same_digest(const struct head *a, const struct head *b, const char *when)
{
    uint32_t da = head_digest(a), db = head_digest(b);
    if (da != db) {
        print_error("%s: digests differ %s (%08x vs %08x)\n", head_name(a), when, (unsigned)da,
                    (unsigned)db);
        fail();
    }
}

static int is_zeroed(const struct head *h)
{
    static const struct head z;
    return memcmp(h, &z, sizeof z) == 0;
}

/* `msg` is "<head>: ..." with the head named once, and contains `what`. */
static void assert_message(const char *head, const char *msg, const char *what)
{
    char pre[64], twice[128];
    snprintf(pre, sizeof pre, "%s: ", head);
    snprintf(twice, sizeof twice, "%s: %s: ", head, head);
    if (strncmp(msg, pre, strlen(pre)) != 0 || strncmp(msg, twice, strlen(twice)) == 0 ||
        !strstr(msg, what)) {
        print_error("message '%s': want it to start with '%s' once and contain '%s'\n", msg,
                    pre, what);
        fail();
    }
}

/* ---- the table itself ---------------------------------------------------------------------- */

/* Every registered head has a row; every row names a registered head. */
static void test_table(void **state)
{
    (void)state;
    int bad = 0;
    for (const struct head_ops *const *l = head_list(); *l; l++)
        if (!find_row((*l)->name)) {
            print_error("head '%s' is registered but has no row in tests/test_heads.c\n",
                        (*l)->name);
            bad++;
        }
    for (int i = 0; i < N_ROWS; i++)
        if (!head_find(rows[i].name)) {
            print_error("row '%s' names no registered head\n", rows[i].name);
            bad++;
        }
    assert_int_equal(bad, 0);
}

/* head_open's own refusals and the key helpers every head reads through. */
static void test_open_and_key_helpers(void **state)
{
    (void)state;
    struct head h;
    struct dcqb_err err = {0};
    struct head_cfg cfg = fx_cfg(C, D, B, 0.1, 1, NULL, NULL);
    assert_int_equal(head_open(&h, "nope", &cfg, &err), DCQB_EINVAL);
    assert_true(is_zeroed(&h));
    assert_non_null(strstr(err.msg, "unknown head 'nope'"));
    for (const struct head_ops *const *l = head_list(); *l; l++) {
        assert_non_null(strstr(err.msg, (*l)->name)); /* the message lists the heads */
        assert_ptr_equal(head_find((*l)->name), *l);
        assert_int_equal((*l)->abi_version, HEAD_ABI_VERSION);
    }
    assert_null(head_find("nope"));
    assert_null(head_find(NULL));
    assert_string_equal(head_name(&h), "(closed head)");
    /* head_cfg_defaults: every shared default, sizes left to the caller */
    head_cfg_defaults(&cfg);
    assert_true(cfg.ratio == 0.1 && cfg.init_std == 0.01f && cfg.optim.momentum == 0.9f &&
                cfg.optim.weight_decay == 5e-4f && cfg.seed == 1 && cfg.threads == 1 &&
                cfg.max_batch == 256 && cfg.C == 0 && cfg.D == 0 && !cfg.class_counts);
    /* helpers: out of range and no param source */
    static const struct kv kv[] = {{"easy_margin", "2"}, {NULL, NULL}};
    cfg = fx_cfg(C, D, B, 0.1, 1, kv, NULL);
    long long iv;
    assert_int_equal(head_param_int(&cfg, "easy_margin", 0, 0, 1, &iv, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "easy_margin = 2"));
    cfg.param = NULL;
    double dv;
    assert_int_equal(head_param_double(&cfg, "x", 1.5, 0, 2, &dv, NULL), DCQB_OK);
    assert_close(dv, 1.5, 0, 0);
    double r;
    cfg.ratio = 1.0;
    assert_int_equal(head_cfg_ratio(&cfg, &r, &err), DCQB_OK);
    cfg.ratio = 1.0000001;
    assert_int_equal(head_cfg_ratio(&cfg, &r, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "ratio = 1 outside (0, 1]"));
    /* the shared size and loss checks */
    assert_int_equal(head_check_sizes(&cfg, C, &err), DCQB_OK);
    assert_int_equal(head_check_sizes(&cfg, C - 1, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "C = 50 out of range [1, 49]"));
    cfg.max_batch = 0;
    assert_int_equal(head_check_sizes(&cfg, C, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "max_batch = 0 must be >= 1"));
    float loss;
    assert_int_equal(head_mean_loss(&loss, 6.0, 4, &err), DCQB_OK);
    assert_true(loss == 1.5f);
    assert_int_equal(head_mean_loss(&loss, INFINITY, 4, &err), DCQB_ENUMERIC);
    assert_non_null(strstr(err.msg, "non-finite loss inf"));
}

/* ---- the contract, per head ---------------------------------------------------------------- */

static void test_zeroed(void **state)
{
    const struct ctx *c = *state;
    need_row(state);
    struct head z = {0};
    head_close(&z);
    head_close(&z);
    head_close(NULL);
    assert_true(is_zeroed(&z));
    void *st = calloc(1, c->ops->state_size ? c->ops->state_size : 1);
    assert_non_null(st);
    c->ops->free(st);
    c->ops->free(st);
    free(st);
    /* and a closed handle is zeroed again */
    struct head_cfg cfg = row_cfg(c->row, 1, NULL);
    struct head h = fx_open(c->ops->name, &cfg);
    assert_string_equal(head_name(&h), c->ops->name);
    head_close(&h);
    assert_true(is_zeroed(&h));
}

static void test_keys(void **state)
{
    const struct ctx *c = *state;
    const struct row *r = need_row(state);
    struct dcqb_err err;
    struct head h;
    for (const char *const *k = c->ops->keys; k && *k; k++) {
        /* m1, m2, m3 are read only where they mean something: margin = combined */
        int comb = strcmp(*k, "m1") == 0 || strcmp(*k, "m2") == 0 || strcmp(*k, "m3") == 0;
        const struct kv kv[] = {{*k, "bogus"}, {comb ? "margin" : NULL, "combined"},
                                {NULL, NULL}};
        struct head_cfg cfg = row_cfg(r, 1, kv);
        dcqb_err_clear(&err);
        int rc = head_open(&h, c->ops->name, &cfg, &err);
        if (rc != DCQB_EINVAL) print_error("%s = bogus: rc %d\n", *k, rc);
        assert_int_equal(rc, DCQB_EINVAL);
        assert_true(is_zeroed(&h));
        char want[64];
        snprintf(want, sizeof want, "%s = 'bogus'", *k);
        assert_message(c->ops->name, err.msg, want);
    }
    /* bad sizes and, where the head reads it, a ratio outside (0, 1] */
    struct head_cfg cfg = row_cfg(r, 1, NULL);
    cfg.C = 0;
    assert_int_equal(head_open(&h, c->ops->name, &cfg, &err), DCQB_EINVAL);
    assert_message(c->ops->name, err.msg, "C = 0");
    cfg = row_cfg(r, 1, NULL);
    cfg.D = 0;
    assert_int_equal(head_open(&h, c->ops->name, &cfg, &err), DCQB_EINVAL);
    assert_message(c->ops->name, err.msg, "D = 0");
    if (r->uses_ratio) {
        const double bad[2] = {0.0, 1.5};
        for (int i = 0; i < 2; i++) {
            cfg = row_cfg(r, 1, NULL);
            cfg.ratio = bad[i];
            assert_int_equal(head_open(&h, c->ops->name, &cfg, &err), DCQB_EINVAL);
            assert_message(c->ops->name, err.msg, "ratio = ");
        }
    }
}

/* Three steps of a and b on the same batches: identical losses and digests after each. */
static void steps_agree(struct head *a, struct head *b, const char *what)
{
    for (int t = 0; t < 3; t++) {
        float la = one_step(a, 10 + t, t), lb = one_step(b, 10 + t, t);
        assert_memory_equal(&la, &lb, sizeof la);
        assert_same_digest(a, b, what);
    }
}

static void test_seed(void **state)
{
    const struct ctx *c = *state;
    const struct row *r = need_row(state);
    struct head_cfg cfg = row_cfg(r, 5, NULL);
    struct head a = fx_open(c->ops->name, &cfg), b = fx_open(c->ops->name, &cfg);
    cfg.seed = 6;
    struct head o = fx_open(c->ops->name, &cfg);
    assert_same_digest(&a, &b, "after init with the same seed");
    assert_int_not_equal(head_digest(&a), head_digest(&o));
    steps_agree(&a, &b, "after a step with the same seed");
    head_close(&a);
    head_close(&b);
    head_close(&o);
}

/* A head given a caller's team (cfg.pool, as the training loop lends it) computes what a head
 * with its own team of the same size computes: same losses, same digests. */
static void test_borrowed_pool(void **state)
{
    const struct ctx *c = *state;
    const struct row *r = need_row(state);
    struct pool team;
    assert_int_equal(pool_init(&team, 2, NULL), DCQB_OK);
    struct head_cfg cfg = row_cfg(r, 5, NULL);
    cfg.threads = 2;
    struct head own = fx_open(c->ops->name, &cfg);
    cfg.pool = &team;
    struct head lent = fx_open(c->ops->name, &cfg);
    steps_agree(&own, &lent, "after a step on a borrowed team");
    head_close(&lent);
    head_close(&own);
    pool_free(&team);
}

static void test_save_load(void **state)
{
    const struct ctx *c = *state;
    const struct row *r = need_row(state);
    struct head_cfg cfg = row_cfg(r, 7, NULL);
    struct head a = fx_open(c->ops->name, &cfg);
    for (int t = 0; t < 3; t++) one_step(&a, 20 + t, t);
    struct fx_snap s = fx_save(&a);
    cfg.seed = 8; /* the loaded state, not the seed, must decide */
    struct head b = fx_open(c->ops->name, &cfg);
    assert_int_not_equal(head_digest(&a), head_digest(&b));
    fx_load(&b, &s);
    assert_same_digest(&a, &b, "after save, then load into a head of another seed");
    struct fx_snap s2 = fx_save(&b);
    assert_int_equal(s2.n, s.n);
    assert_memory_equal(s2.buf, s.buf, s.n);
    for (int t = 3; t < 5; t++) {
        float la = one_step(&a, 30 + t, t), lb = one_step(&b, 30 + t, t);
        if (memcmp(&la, &lb, sizeof la) != 0)
            print_error("%s: loss %.9g vs %.9g at step %d after the load\n", c->ops->name,
                        (double)la, (double)lb, t);
        assert_memory_equal(&la, &lb, sizeof la);
        assert_same_digest(&a, &b, "at a step after the load");
    }
    /* a truncated blob is refused, named by the head */
    struct dcqb_err err = {0};
    assert_int_equal(head_load(&b, s.buf, s.n - 1, &err), DCQB_EFORMAT);
    assert_message(c->ops->name, err.msg, "");
    free(s.buf);
    free(s2.buf);
    head_close(&a);
    head_close(&b);
}

static void test_inputs(void **state)
{
    const struct ctx *c = *state;
    const struct row *r = need_row(state);
    struct head_cfg cfg = row_cfg(r, 12, NULL);
    struct head h = fx_open(c->ops->name, &cfg);
    one_step(&h, 40, 0);
    const uint32_t before = head_digest(&h);
    float emb[(B + 1) * D], key[(B + 1) * D], demb[(B + 1) * D], loss;
    int32_t y[B + 1];
    fx_rows(emb, B + 1, D, 41, 1);
    fx_rows(key, B + 1, D, 42, 1);
    memcpy(y, Y, sizeof Y);
    y[B] = Y[0];
    struct dcqb_err err = {0};
    assert_int_equal(head_forward_backward(&h, &loss, demb, emb, key, y, 0, &err), DCQB_EINVAL);
    assert_message(c->ops->name, err.msg, "batch 0 outside [1, 4]");
    assert_int_equal(head_forward_backward(&h, &loss, demb, emb, key, y, B + 1, &err),
                     DCQB_EINVAL);
    assert_message(c->ops->name, err.msg, "batch 5 outside [1, 4]");
    const int32_t bad[2] = {-1, C};
    for (int k = 0; k < 2; k++) {
        y[2] = bad[k];
        assert_int_equal(head_forward_backward(&h, &loss, demb, emb, key, y, B, &err),
                         DCQB_EINVAL);
        char want[64];
        snprintf(want, sizeof want, "label %d of row 2 outside [0, %d)", (int)bad[k], C);
        assert_message(c->ops->name, err.msg, want);
    }
    struct fx_snap s = fx_save(&h);
    uint32_t magic;
    memcpy(&magic, s.buf, sizeof magic);
    magic ^= 0x01000000u; /* the letter that tells the heads apart: no head's magic */
    memcpy(s.buf, &magic, sizeof magic);
    assert_int_equal(head_load(&h, s.buf, s.n, &err), DCQB_EFORMAT);
    assert_message(c->ops->name, err.msg, "bad state magic/version");
    free(s.buf);
    assert_int_equal(head_digest(&h), before);
    one_step(&h, 43, 1); /* nothing half-done is left behind */
    head_close(&h);
}

static void test_gradient(void **state)
{
    const struct ctx *c = *state;
    const struct row *r = need_row(state);
    struct head_cfg cfg = row_cfg(r, 9, NULL);
    struct head h = fx_open(c->ops->name, &cfg);
    float emb[B * D], key[B * D], W[C * D];
    fx_rows(emb, B, D, 1, 1);
    fx_rows(key, B, D, 2, 1);
    fx_rows(W, C, D, 3, 0);
    /* head check writes d_weights for the heads with class weights: all three go together */
    int weights = head_class_weights(&h) != NULL;
    assert_int_equal(!!c->ops->set_weights, weights);
    assert_int_equal(!!c->ops->weight_grad, weights);
    double worst = fx_gradcheck_tol(&h, emb, h.req.pairs ? key : NULL, Y, B, D,
                                    weights ? W : NULL, C, 200, r->tol, r->eps);
    assert_true(worst <= 1.0);
    head_close(&h);
}

/* SQLite's fault-simulation loop (src/test_malloc.c): fail allocation n = 1, 2, ... of head_open
 * until it succeeds; each failure must come back as ENOMEM with a zeroed handle and nothing left
 * allocated, and a success must not have swallowed a failed allocation. */
static void test_alloc_fail(void **state)
{
    const struct ctx *c = *state;
    const struct row *r = need_row(state);
    if (!alloc_count_available()) skip(); /* AddressSanitizer owns malloc */
    struct head_cfg cfg = row_cfg(r, 11, NULL);
    for (long n = 1;; n++) {
        struct head h;
        struct dcqb_err err = {0};
        alloc_count_enable(1);
        alloc_fail_at(n);
        int rc = head_open(&h, c->ops->name, &cfg, &err);
        if (rc == DCQB_OK) head_close(&h);
        int fired = alloc_fail_fired();
        long held = alloc_count_outstanding(), calls = alloc_count_get();
        alloc_count_enable(0); /* before any assertion: cmocka allocates too */
        if (held != 0)
            print_error("%s: %ld block(s) left allocated when allocation %ld of %ld failed "
                        "(rc %d: %s)\n", c->ops->name, held, n, calls, rc, err.msg);
        assert_int_equal(held, 0);
        if (rc == DCQB_OK) {
            if (fired) print_error("%s: init succeeded although allocation %ld failed\n",
                                   c->ops->name, n);
            assert_false(fired);
            assert_true(n > 1); /* at least head_open's own state was counted */
            print_message("%s: init makes %ld allocations; each failed once, cleanly\n",
                          c->ops->name, calls);
            break;
        }
        assert_true(fired);
        if (rc != DCQB_ENOMEM) print_error("allocation %ld: rc %d: %s\n", n, rc, err.msg);
        assert_int_equal(rc, DCQB_ENOMEM);
        assert_true(is_zeroed(&h));
        assert_message(c->ops->name, err.msg, "");
    }
}

static int setup(void **state)
{
    (void)state;
    /* as bin/dcqbench's main does: GSL's default handler aborts when gsl_rng_alloc fails,
     * before rng.c could return ENOMEM */
    gsl_set_error_handler_off();
    for (int i = 0; i < C; i++) counts[i] = 1 + (i * 7919) % 97;
    return 0;
}

int main(void)
{
    static const struct {
        const char *what;
        CMUnitTestFunction fn;
    } props[] = {
        {"zeroed", test_zeroed},     {"keys", test_keys},         {"seed", test_seed},
        {"save_load", test_save_load}, {"gradient", test_gradient}, {"alloc_fail", test_alloc_fail},
        {"borrowed_pool", test_borrowed_pool}, {"inputs", test_inputs},
    };
    enum { NP = sizeof props / sizeof props[0] };
    static struct ctx ctx[MAX_HEADS];
    static char names[MAX_HEADS * NP][64];
    static struct CMUnitTest tests[2 + MAX_HEADS * NP];
    int n = 0, nh = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_table);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_open_and_key_helpers);
    for (const struct head_ops *const *l = head_list(); *l && nh < MAX_HEADS; l++, nh++) {
        ctx[nh] = (struct ctx){*l, find_row((*l)->name)};
        for (int p = 0; p < NP; p++) {
            char *name = names[nh * NP + p];
            snprintf(name, sizeof names[0], "%s %s", (*l)->name, props[p].what);
            tests[n++] = (struct CMUnitTest){name, props[p].fn, NULL, NULL, &ctx[nh]};
        }
    }
    return _cmocka_run_group_tests("heads", tests, (size_t)n, setup, NULL);
}
