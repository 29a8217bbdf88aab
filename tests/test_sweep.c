/* test_sweep.c - sweep files (expansion, canonical hash, file:line errors) and the runner
 * (resume, shards, failing and crashing children, runs.tsv shape, header refusal, merge).
 * The runner tests drive a fake "dcqbench" shell script written to build/tmp-tests/, which
 * behaves by the run's `eval.fake` key: ok, fail (summary with status fail, exit 1), crash
 * (SIGSEGV), nosummary (exit 2, no summary.json, no config.ini), evalfail (eval exits 3), hang
 * (sleeps 5 s unless interrupted by SIGINT, then exits 1 without summary), gridfail (fail, but
 * only the grid runs of a tuned section). eval writes val_rank1 = the run's lr (null without
 * one), so a tuning's choice is the largest lr. Like the real one,
 * train refuses a folder that holds a checkpoint.bin. Every train but nosummary writes a
 * checkpoint.bin and a resolved config.ini: run.conf plus "ratio = 0.10" and, for dcq,
 * "mu = 9.99e-1" (defaults in a non-canonical spelling). */
#include "test_util.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sweep.h"
#include "train_keys.h"
#include "tsv.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static const char *tpath(const char *leaf)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", test_tmpdir(), leaf);
    return buf[k];
}

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static int load_text(struct sweep *s, const char *name, const char *text, struct dcqb_err *err)
{
    const char *p = tpath(name);
    test_write_file(p, text);
    return sweep_load(s, p, err);
}

/* Assert that loading `text` fails and the message contains `want`. */
static void expect_error(const char *text, const char *want)
{
    struct sweep s;
    struct dcqb_err err = {0};
    int rc = load_text(&s, "bad.conf", text, &err);
    if (rc == DCQB_OK || !strstr(err.msg, want)) {
        print_error("rc %d, message '%s', wanted '%s'\n", rc, err.msg, want);
        if (rc == DCQB_OK) sweep_free(&s);
        fail();
    }
}

static const char fake_script[] =
    "#!/bin/sh\n"
    "# fake dcqbench for test_sweep: behaviour from eval.fake in run.conf\n"
    "cmd=$1\n"
    "if [ \"$cmd\" = train ]; then conf=$3; out=$5; else out=$3; conf=$3/run.conf; fi\n"
    "mode=$(sed -n 's/^eval.fake = //p' \"$conf\")\n"
    "echo \"fake $cmd $mode\"\n"
    "if [ \"$cmd\" = train ]; then\n"
    "  echo x >> \"$out/attempts\"\n"
    "  [ -e \"$out/checkpoint.bin\" ] && [ \"$6\" != --resume ] && "
    "{ echo \"$out already holds a run\" >&2; exit 2; }\n"
    "  grep -q other \"$out/checkpoint.bin\" 2>/dev/null && "
    "{ echo 'checkpoint belongs to another configuration' >&2; exit 3; }\n"
    "  [ \"$mode\" != nosummary ] && { echo '# resolved'; cat \"$conf\"; echo 'ratio = 0.10';\n"
    "    grep -q '^head = dcq' \"$conf\" && echo 'mu = 9.99e-1'; } > \"$out/config.ini\"\n"
    "  [ \"$mode\" != nosummary ] && echo ckpt > \"$out/checkpoint.bin\"\n"
    "  [ \"$mode\" = gridfail ] && grep -q '^# tune = grid' \"$conf\" && mode=fail\n"
    "  case \"$mode\" in\n"
    "  crash) kill -SEGV $$ ;;\n"
    "  hang) trap 'echo got INT; exit 1' INT; sleep 5 & wait $!; echo done; exit 0 ;;\n"
    "  nosummary) echo 'bad value for lr' >&2; exit 2 ;;\n"
    "  fail) printf '{\"status\": \"fail\", \"err_msg\": \"loss diverged\\\\tat step 7\", "
    "\"steps\": 7, \"final_loss\": null}\\n' > \"$out/summary.json\"; exit 1 ;;\n"
    "  esac\n"
    "  printf '{\"status\": \"ok\", \"err_msg\": \"\", \"steps\": 10, \"final_loss\": 1.5, "
    "\"digest\": \"00c0ffee\", \"wall_s\": 0.25, \"samples_per_s\": 100, "
    "\"head_mem_bytes\": 2097152, \"head_mem_mb\": 2, \"peak_rss_mb\": 12.5, \"extra\": 3, "
    "\"eval_ema_default\": 1}\\n' > \"$out/summary.json\"\n"
    "  exit 0\n"
    "fi\n"
    "[ \"$mode\" = evalfail ] && { echo 'eval boom' >&2; exit 3; }\n"
    "lr=$(sed -n 's/^lr = //p' \"$conf\"); [ -n \"$lr\" ] || lr=null\n"
    "printf '{\"lfw_acc_mean\": 0.875, \"megaface_rank1\": null, \"other\": 1, "
    "\"val_rank1\": %s}\\n' \"$lr\" > \"$out/eval/metrics.json\"\n";

static const char *fake_exec(void)
{
    const char *p = tpath("fake_dcqbench.sh");
    test_write_file(p, fake_script);
    chmod(p, 0755);
    return p;
}

static const char runner_conf[] =
    "[sweep]\n"
    "name = t\n"
    "metrics = lfw_acc_mean, megaface_rank1\n"
    "[base]\n"
    "seed = 1, 2\n"
    "steps = 10\n"
    "[head.full]\n"
    "eval.fake = ok, fail, crash\n"
    "[head.dcq]\n"
    "eval.fake = ok, nosummary, evalfail\n"
    "queue_len = 8\n";

static struct sweep_opts opts(const char *exec, const char *results)
{
    struct sweep_opts o = {.exec = exec, .results_dir = results, .jobs = 1, .shard_i = 0,
                           .shard_n = 1};
    return o;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++) n += *p == '\n';
    return n;
}

/* The row (line) of run_id in text, copied, or NULL (the last one when there are several). */
static char *find_row(const char *text, const char *run_id)
{
    const char *hit = NULL;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *t = strchr(l, '\t');
        if (t && strncmp(t + 1, run_id, 16) == 0) hit = l;
    }
    if (!hit) return NULL;
    size_t n = strcspn(hit, "\n");
    char *r = calloc(1, n + 1);
    memcpy(r, hit, n);
    return r;
}

/* The cell of column `col` in the (last) row of run_id; fails the test when either is absent. */
static const char *cell_of(const struct tsv *t, const char *run_id, const char *col)
{
    int c = tsv_col(t, col), c_id = tsv_col(t, "run_id"), hit = -1;
    assert_true(c >= 0 && c_id >= 0);
    for (int r = 1; r < t->rows; r++)
        if (!strcmp(tsv_get(t, r, c_id), run_id)) hit = r;
    assert_true(hit > 0);
    return tsv_get(t, hit, c);
}

static const char *mode_of(const struct sweep_run *r)
{
    for (int i = 0; i < r->n_kv; i++)
        if (!strcmp(r->key[i], "eval.fake")) return r->val[i];
    return "";
}

static int attempts(const char *results, const struct sweep *s, int i)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s/%s/attempts", results, s->name, s->runs[i].run_id);
    char *t = test_slurp(p);
    int n = t ? count_lines(t) : 0;
    free(t);
    return n;
}

/* ---- parsing and hashing ------------------------------------------------------------------- */

static void test_fnv_vectors(void **state)
{
    (void)state;
    /* published FNV-1a 64 test vectors */
    assert_true(dcqb_fnv1a64(DCQB_FNV1A64_INIT, "", 0) == 0xcbf29ce484222325ULL);
    assert_true(dcqb_fnv1a64(DCQB_FNV1A64_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(dcqb_fnv1a64(DCQB_FNV1A64_INIT, "foobar", 6) == 0x85944171f73967e8ULL);
}

static void test_canon_value(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"0.1", "0.1"},  {"0.10", "0.1"},   {"1e-2", "0.01"},   {"1.0", "1"},
        {"+7", "7"},     {"007", "7"},      {"-0", "0"},        {"1e6", "1000000"}, {"1e6.5", "1e6.5"}, {"-2.0", "-2"}, {"1e22", "1e+22"},
        {"2.5e-07", "2.5e-07"},             {"18446744073709551615", "18446744073709551615"},
        {"cosface", "cosface"},             {"1e", "1e"},       {"nan", "nan"},
        {"0.30000000000000004", "0.30000000000000004"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        assert_int_equal(sweep_canon_value(out, sizeof out, cases[i][0]), DCQB_OK);
        if (strcmp(out, cases[i][1]) != 0) {
            print_error("'%s' -> '%s', want '%s'\n", cases[i][0], out, cases[i][1]);
            fail();
        }
    }
}

static void test_expand_counts(void **state)
{
    (void)state;
    struct sweep s;
    struct dcqb_err err = {0};
    int rc = load_text(&s, "expand.conf",
                       "# comment\n"
                       "[base]\n"
                       "seed = 1, 2, 3\n"
                       "lr = 0.1, 0.01\n"
                       "eval.lfw = 1\n"
                       "[head.full]\n"
                       "[head.dcq]\n"
                       "queue_len = 512, 2048\n"
                       "lr = 0.05 ; dcq's own rate overrides [base]\n", &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    assert_string_equal(s.name, "expand");
    assert_int_equal(s.n_runs, 3 * 2 + 3 * 2 * 1); /* full: seed x lr; dcq: seed x queue_len */
    int n_full = 0, n_dcq_lr = 0;
    for (int i = 0; i < s.n_runs; i++) {
        const struct sweep_run *r = &s.runs[i];
        for (int k = 1; k < r->n_kv; k++) assert_true(strcmp(r->key[k - 1], r->key[k]) < 0);
        for (int k = 0; k < r->n_kv; k++) {
            if (!strcmp(r->key[k], "head") && !strcmp(r->val[k], "full")) n_full++;
            if (!strcmp(r->key[k], "lr") && !strcmp(r->val[k], "0.05")) n_dcq_lr++;
        }
    }
    assert_int_equal(n_full, 6);
    assert_int_equal(n_dcq_lr, 6);
    /* sorted union of keys */
    const char *want[] = {"eval.lfw", "head", "lr", "queue_len", "seed"};
    assert_int_equal(s.n_keys, 5);
    for (int i = 0; i < 5; i++) assert_string_equal(s.keys[i], want[i]);
    assert_int_equal(s.n_metrics > 0, 1); /* built-in default list */
    sweep_free(&s);
}

static void test_hash_independent_of_order(void **state)
{
    (void)state;
    struct sweep a, b;
    struct dcqb_err err = {0};
    assert_int_equal(load_text(&a, "order_a.conf",
                               "[base]\nseed = 1, 2\nlr = 0.1\n[head.dcq]\nmu = 0.9, 0.99\n",
                               &err), DCQB_OK);
    assert_int_equal(load_text(&b, "order_b.conf",
                               "[head.dcq]\nmu = 0.990, 9e-1\n[base]\nlr = 1e-1\nseed = 2, 1\n",
                               &err), DCQB_OK);
    assert_int_equal(a.n_runs, 4);
    assert_int_equal(b.n_runs, 4);
    for (int i = 0; i < 4; i++) { /* same ids in the same canonical order */
        assert_string_equal(a.runs[i].run_id, b.runs[i].run_id);
        assert_string_equal(a.runs[i].conf, b.runs[i].conf);
    }
    /* run_id is FNV-1a 64 of the canonical text, which is run.conf */
    char id[17];
    snprintf(id, sizeof id, "%016llx",
             (unsigned long long)dcqb_fnv1a64(DCQB_FNV1A64_INIT, a.runs[0].conf,
                                                  strlen(a.runs[0].conf)));
    assert_string_equal(id, a.runs[0].run_id);
    /* pinned: a change of the canonical form would orphan every finished result */
    const char *canon = "head = dcq\nlr = 0.1\nmu = 0.9\nseed = 1\n";
    snprintf(id, sizeof id, "%016llx",
             (unsigned long long)dcqb_fnv1a64(DCQB_FNV1A64_INIT, canon, strlen(canon)));
    int found = 0;
    for (int i = 0; i < 4; i++)
        if (!strcmp(a.runs[i].conf, canon)) found = !strcmp(a.runs[i].run_id, id);
    assert_true(found);
    sweep_free(&a);
    sweep_free(&b);
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    char want[600];
    snprintf(want, sizeof want, "%s:3: unknown key 'learning_rate'", tpath("bad.conf"));
    expect_error("[base]\nseed = 1\nlearning_rate = 0.1\n[head.full]\n", want);
    snprintf(want, sizeof want, "%s:3: unknown key 'qlen'", tpath("bad.conf"));
    expect_error("\n[head.dcq]\nqlen = 1\n", want);
    snprintf(want, sizeof want, "%s:2: syntax error", tpath("bad.conf"));
    expect_error("[base]\nseed 1\n[head.full]\n", want);
    snprintf(want, sizeof want, "%s:3: unknown head 'dqc'", tpath("bad.conf"));
    expect_error("[base]\nseed = 1\n[head.dqc]\n", want);
    expect_error("[base]\n[bsae]\nseed = 1\n[head.full]\n", ":2: unknown section [bsae]");
    expect_error("[base]\nseed = 1\nseed = 2\n[head.full]\n", ":3: key 'seed' is given twice");
    expect_error("[base]\nseed =\n[head.full]\n", ":2: 'seed' has an empty value");
    expect_error("[base]\nseed = 1,,2\n[head.full]\n", ":2: empty item");
    expect_error("[base]\nseed = 1, 1.0\n[head.full]\n", ":2: 'seed' lists the value 1 twice");
    expect_error("[head.full]\nhead = dcq\n", ":2: 'head' is set by");
    expect_error("[base]\nseed = 1 # one\n[head.full]\n", ":2: '#' in the value");
    expect_error("[base]\nseed = 1\n", "no [head.<name>] section");
    expect_error("[sweep]\nname = a/b\n[head.full]\n", ":2: sweep name");
    expect_error("[sweep]\nfoo = 1\n[head.full]\n", ":2: unknown key 'foo' in [sweep]");
    /* a typo in metrics once gave an all-NA column without a word */
    expect_error("[sweep]\nmetrics = lfw_acc_mean, lfw_acx\n[head.full]\n",
                 "unknown metric 'lfw_acx'");
    expect_error("[head.full]\n[head.full]\n", ":2: section [head.full] given twice");
}

/* ---- the runner ---------------------------------------------------------------------------- */

static void test_runs_failures_and_resume(void **state)
{
    (void)state;
    const char *exec = fake_exec(), *res = tpath("res_resume");
    rm_rf(res);
    struct sweep s;
    struct dcqb_err err = {0};
    assert_int_equal(load_text(&s, "runner.conf", runner_conf, &err), DCQB_OK);
    assert_int_equal(s.n_runs, 12);
    struct sweep_opts o = opts(exec, res);
    struct sweep_result r;
    int rc = sweep_execute(&s, &o, &r, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    assert_int_equal(r.total, 12);
    assert_int_equal(r.skipped, 0);
    assert_int_equal(r.ok, 4); /* full ok and dcq ok, two seeds */
    assert_int_equal(r.failed, 8);

    char tsv[600];
    snprintf(tsv, sizeof tsv, "%s/t/runs.tsv", res);
    char *text = test_slurp(tsv);
    assert_non_null(text);
    /* header: lead columns, the config columns (every run-defining key and the sweep's own,
     * sorted; steps clashes with a result column), the summary columns, metrics, err_msg */
    const char **def;
    int n_def;
    assert_int_equal(train_defining_keys(&def, &n_def, &err), DCQB_OK);
    assert_true(n_def > 20);
    assert_int_equal(s.n_cols, n_def + 1); /* eval.fake is the sweep's only other key */
    struct sbuf want = {0};
    sb_str(&want, "schema\trun_id\tsweep\tgit_rev\tstatus\ttune\ttune_keys");
    for (int i = 0; i < s.n_cols; i++) {
        if (i) assert_true(strcmp(s.cols[i - 1], s.cols[i]) < 0);
        sb_printf(&want, "\t%s%s", strcmp(s.cols[i], "steps") ? "" : "cfg.", s.cols[i]);
    }
    free(def);
    sb_str(&want, "\tsteps\twall_s\tsamples_per_s\thead_mem_mb\tpeak_rss_mb\t"
                  "final_loss\tdigest\tfirst_loss\tclasses\ttrain_images\t"
                  "head_time_share\tbackbone_time_share\tdata_time_share\t"
                  "head_per_class_bytes\thead_fixed_bytes\thead_flops_per_step\t"
                  "backbone_flops_per_step\thead_active_classes\tqueue_distinct_classes\t"
                  "blas_core\teval_ema_default\teff_classes_mean\tbatch_labels_mean\t"
                  "queue_staleness\tqueue_age_mean\tqueue_drift_mean\t"
                  "lfw_acc_mean\tmegaface_rank1\terr_msg\n");
    assert_false(want.oom);
    assert_memory_equal(text, want.p, want.n);
    sb_free(&want);
    assert_int_equal(count_lines(text), 1 + 12);
    struct tsv t;
    assert_int_equal(tsv_parse(&t, strdup(text), tsv, &err), DCQB_OK);
    for (int k = 1; k < t.rows; k++) assert_true(tsv_row_whole(&t, k)); /* header's width */
    for (int i = 0; i < s.n_runs; i++) {
        const char *m = mode_of(&s.runs[i]);
        int dcq = !strcmp(cell_of(&t, s.runs[i].run_id, "head"), "dcq");
        char *row = find_row(text, s.runs[i].run_id);
        assert_non_null(row);
        /* resolved config: the sweep's keys, and the run's defaults from its config.ini in
         * canonical form; NA for a key its head does not read or when train wrote none */
        assert_string_equal(cell_of(&t, s.runs[i].run_id, "cfg.steps"), "10");
        assert_string_equal(cell_of(&t, s.runs[i].run_id, "eval.fake"), m);
        assert_string_equal(cell_of(&t, s.runs[i].run_id, "queue_len"), dcq ? "8" : "NA");
        int resolved = strcmp(m, "nosummary") != 0;
        assert_string_equal(cell_of(&t, s.runs[i].run_id, "ratio"), resolved ? "0.1" : "NA");
        assert_string_equal(cell_of(&t, s.runs[i].run_id, "mu"),
                            resolved && dcq ? "0.999" : "NA");
        assert_string_equal(cell_of(&t, s.runs[i].run_id, "kshot"), "NA");
        if (!strcmp(m, "ok")) {
            assert_non_null(strstr(row, "\tok\t"));
            /* steps 10, head_mem 2 MiB, lfw 0.875, megaface_rank1 null -> NA, err_msg NA */
            assert_non_null(strstr(row, "\t10\t0.25\t100\t2\t12.5\t1.5\t00c0ffee\t"));
            assert_non_null(strstr(row, "\t1\tNA\tNA\tNA\tNA\tNA\t0.875\tNA\tNA"));
        } else {
            assert_non_null(strstr(row, "\tfail\t"));
        }
        if (!strcmp(m, "fail")) assert_non_null(strstr(row, "loss diverged at step 7"));
        if (!strcmp(m, "crash")) assert_non_null(strstr(row, "signal 11"));
        if (!strcmp(m, "nosummary")) {
            assert_non_null(strstr(row, "status 2"));
            assert_non_null(strstr(row, "no summary.json"));
            assert_non_null(strstr(row, "bad value for lr"));
        }
        if (!strcmp(m, "evalfail")) assert_non_null(strstr(row, "eval exited with status 3"));
        free(row);
        char p[700];
        snprintf(p, sizeof p, "%s/t/%s/run.conf", res, s.runs[i].run_id);
        char *conf = test_slurp(p);
        assert_non_null(conf);
        assert_string_equal(conf, s.runs[i].conf);
        free(conf);
        snprintf(p, sizeof p, "%s/t/%s/train.log", res, s.runs[i].run_id);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
    }
    tsv_free(&t);
    free(text);

    /* rerun: ok runs skipped, failed runs retried (one more row each): training resumed with
     * --resume, and a run whose training finished (evalfail) is evaluated again, not retrained */
    rc = sweep_execute(&s, &o, &r, &err);
    assert_int_equal(rc, DCQB_OK);
    assert_int_equal(r.skipped, 4);
    assert_int_equal(r.ok, 0);
    assert_int_equal(r.failed, 8);
    for (int i = 0; i < s.n_runs; i++) {
        const char *m = mode_of(&s.runs[i]);
        assert_int_equal(attempts(res, &s, i), strcmp(m, "ok") && strcmp(m, "evalfail") ? 2 : 1);
    }
    text = test_slurp(tsv);
    assert_int_equal(count_lines(text), 1 + 12 + 8);
    for (int i = 0; i < s.n_runs; i++) { /* resumed, not refused by train */
        char *row = find_row(text, s.runs[i].run_id);
        if (!strcmp(mode_of(&s.runs[i]), "evalfail"))
            assert_non_null(strstr(row, "eval exited with status 3"));
        free(row);
    }
    free(text);

    /* a checkpoint train cannot resume (exit 3: another configuration) is moved aside, never
     * deleted, and the run trains afresh in the same call */
    int crash = -1;
    for (int i = 0; i < s.n_runs && crash < 0; i++)
        if (!strcmp(mode_of(&s.runs[i]), "crash")) crash = i;
    char p[700];
    snprintf(p, sizeof p, "%s/t/%s/checkpoint.bin", res, s.runs[crash].run_id);
    test_write_file(p, "other\n");
    assert_int_equal(sweep_execute(&s, &o, &r, &err), DCQB_OK);
    assert_int_equal(attempts(res, &s, crash), 4); /* refused resume + the fresh start */
    snprintf(p, sizeof p, "ls -d %s/t/%s/aside-*/checkpoint.bin >/dev/null 2>&1", res,
             s.runs[crash].run_id);
    assert_int_equal(system(p), 0);

    /* --force reruns everything, from scratch (earlier records are moved aside first) */
    o.force = 1;
    assert_int_equal(sweep_execute(&s, &o, &r, &err), DCQB_OK);
    assert_int_equal(r.skipped, 0);
    assert_int_equal(r.ok, 4);
    assert_int_equal(r.failed, 8);
    sweep_free(&s);
}

static void test_shards_partition_and_merge(void **state)
{
    (void)state;
    const char *exec = fake_exec();
    struct sweep s;
    struct dcqb_err err = {0};
    assert_int_equal(load_text(&s, "runner.conf", runner_conf, &err), DCQB_OK);
    const int n = 3;
    char dirs[3][512], tsvs[3][600];
    const char *in[3];
    int total = 0;
    for (int i = 0; i < n; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s", tpath(i == 0 ? "res_sh0" : i == 1 ? "res_sh1"
                                                                                  : "res_sh2"));
        rm_rf(dirs[i]);
        struct sweep_opts o = opts(exec, dirs[i]);
        o.shard_i = i;
        o.shard_n = n;
        o.jobs = 2; /* and parallel children */
        struct sweep_result r;
        assert_int_equal(sweep_execute(&s, &o, &r, &err), DCQB_OK);
        assert_int_equal(r.ok + r.failed, r.total);
        total += r.total;
        snprintf(tsvs[i], sizeof tsvs[i], "%s/t/runs.tsv", dirs[i]);
        in[i] = tsvs[i];
    }
    assert_int_equal(total, s.n_runs);
    const char *merged = tpath("merged.tsv");
    remove(merged);
    assert_int_equal(sweep_merge(merged, in, n, &err), DCQB_OK);
    /* the output among the inputs under another spelling would double the file */
    char self[700];
    snprintf(self, sizeof self, "%s/./merged.tsv", test_tmpdir());
    const char *again[] = {self};
    assert_int_equal(sweep_merge(merged, again, 1, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "both input and output"));
    char *text = test_slurp(merged);
    assert_int_equal(count_lines(text), 1 + s.n_runs);
    for (int i = 0; i < s.n_runs; i++) { /* every run exactly once */
        int hits = 0;
        for (const char *p = text; (p = strstr(p, s.runs[i].run_id)); p++) hits++;
        assert_int_equal(hits, 1);
    }
    assert_int_equal(strstr(text + 1, "schema\t") == NULL, 1); /* one header */
    free(text);
    sweep_free(&s);
}

static void test_header_mismatch_refused(void **state)
{
    (void)state;
    const char *exec = fake_exec(), *res = tpath("res_hdr");
    rm_rf(res);
    struct sweep s;
    struct dcqb_err err = {0};
    struct sweep_result r;
    assert_int_equal(load_text(&s, "hdr.conf", "[head.full]\neval.fake = ok\n", &err), DCQB_OK);
    struct sweep_opts o = opts(exec, res);
    assert_int_equal(sweep_execute(&s, &o, &r, &err), DCQB_OK);
    assert_int_equal(r.ok, 1);
    sweep_free(&s);
    /* a run-defining key already has its column: the same header, the new run just runs */
    assert_int_equal(load_text(&s, "hdr.conf", "[head.full]\neval.fake = ok\nseed = 3\n", &err),
                     DCQB_OK);
    assert_int_equal(sweep_execute(&s, &o, &r, &err), DCQB_OK);
    assert_int_equal(r.ok, 1);
    sweep_free(&s);
    /* the same sweep gains an evaluation key: a new column */
    assert_int_equal(load_text(&s, "hdr.conf", "[head.full]\neval.fake = ok\neval.tail = 0\n",
                               &err), DCQB_OK);
    int rc = sweep_execute(&s, &o, &r, &err);
    assert_int_equal(rc, DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "different header"));
    assert_non_null(strstr(err.msg, "--results"));
    assert_int_equal(r.ok + r.failed, 0);
    sweep_free(&s);
    /* a runs.tsv of schema 1 (only the sweep's keys as config columns) or of schema 2 (no
     * tune columns) is refused by name */
    char p[600];
    snprintf(p, sizeof p, "%s/hdr/runs.tsv", res);
    test_write_file(p, "schema\trun_id\tsweep\tgit_rev\tstatus\teval.fake\thead\tsteps\terr_msg\n");
    assert_int_equal(load_text(&s, "hdr.conf", "[head.full]\neval.fake = ok\n", &err), DCQB_OK);
    assert_int_equal(sweep_execute(&s, &o, &r, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "schema 3 now"));
    test_write_file(p, "schema\trun_id\tsweep\tgit_rev\tstatus\tbatch\teval.fake\terr_msg\n");
    assert_int_equal(sweep_execute(&s, &o, &r, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "column 6: file 'batch', this sweep 'tune'"));
    sweep_free(&s);
}

/* The CLI: exit 1 when a run failed, 2 for a bad file, dry-run lists runs. */
static void test_cli_exit_status(void **state)
{
    (void)state;
    const char *bin = getenv("DCQBENCH");
    if (!bin) bin = "bin/dcqbench";
    const char *exec = fake_exec(), *res = tpath("res_cli");
    rm_rf(res);
    const char *conf = tpath("cli.conf");
    test_write_file(conf, "[head.full]\neval.fake = ok, crash\n");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s sweep %s --exec %s --results %s --jobs 2 2>/dev/null", bin,
             conf, exec, res);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    snprintf(cmd, sizeof cmd, "%s sweep %s --dry-run --results %s | grep -c ' done '", bin, conf,
             res);
    FILE *p = popen(cmd, "r");
    int done = -1;
    assert_int_equal(fscanf(p, "%d", &done), 1);
    pclose(p);
    assert_int_equal(done, 1);
    test_write_file(tpath("cli_bad.conf"), "[head.full]\nbogus = 1\n");
    snprintf(cmd, sizeof cmd, "%s sweep %s --exec %s --results %s 2>/dev/null", bin,
             tpath("cli_bad.conf"), exec, res);
    st = system(cmd);
    assert_int_equal(WEXITSTATUS(st), 2);
}

/* ^C: running children get SIGINT, nothing new starts, no row for interrupted runs, exit 130,
 * and all of it well before the children's 5 s sleep would end. */
static void test_cli_sigint(void **state)
{
    (void)state;
    const char *bin = getenv("DCQBENCH");
    if (!bin) bin = "bin/dcqbench";
    const char *exec = fake_exec(), *res = tpath("res_int");
    rm_rf(res);
    const char *conf = tpath("int.conf");
    test_write_file(conf, "[base]\nseed = 1, 2, 3\n[head.full]\neval.fake = hang\n");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "start=$(date +%%s); %s sweep %s --exec %s --results %s --jobs 2 2>/dev/null & "
             "pid=$!; sleep 0.5; kill -INT $pid; wait $pid; rc=$?; "
             "[ $(( $(date +%%s) - start )) -lt 4 ] && exit $rc; exit 99",
             bin, conf, exec, res);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 130);
    char p[600];
    snprintf(p, sizeof p, "%s/int/runs.tsv", res);
    char *text = test_slurp(p);
    assert_non_null(text);
    assert_int_equal(count_lines(text), 1); /* header only */
    free(text);
    snprintf(cmd, sizeof cmd, "cat %s/int/*/train.log | grep -c 'got INT'", res);
    FILE *f = popen(cmd, "r");
    int n = -1;
    assert_int_equal(fscanf(f, "%d", &n), 1);
    pclose(f);
    assert_int_equal(n, 2); /* two were running, the third never started */
}

/* ---- data configurations and tuning -------------------------------------------------------- */

static const char *val_of(const struct sweep_run *r, const char *key)
{
    for (int i = 0; i < r->n_kv; i++)
        if (!strcmp(r->key[i], key)) return r->val[i];
    return NULL;
}

/* The run_ids of a sweep without [data.*] or [tune], pinned from the code before either
 * existed: adding them must not orphan a finished result. The same sections next to a [tune]
 * and a tuned section keep their ids too (untuned runs carry no tune line). */
static void test_ids_unchanged_without_new_sections(void **state)
{
    (void)state;
    static const char plain[] = "[base]\nseed = 1, 2\nsteps = 10\n[head.full]\ns = 30, 64\n"
                                "[head.dcq]\nqueue_len = 8\nlr = 0.05\n";
    static const char *const want[] = {"02f340e359675b5a", "610e9d133ab383d0",
                                       "67934e6fe0d998c3", "7d5f8dd88888baed",
                                       "7dd4c6d9b08e8712", "be426078efbd6feb"};
    struct sweep s;
    struct dcqb_err err = {0};
    char text[1024];
    for (int variant = 0; variant < 2; variant++) {
        snprintf(text, sizeof text, "%s%s", plain,
                 variant ? "[sweep]\nname = pin\n[tune]\ngrid.m = 0.3, 0.4\nseed = 9\n"
                           "[head.random]\ntune = 1\n" : "");
        int rc = load_text(&s, "pin.conf", text, &err);
        if (rc) print_error("%s\n", err.msg);
        assert_int_equal(rc, DCQB_OK);
        int found = 0, untuned = 0;
        for (int i = 0; i < s.n_runs; i++) {
            untuned += s.runs[i].tune == SWEEP_TUNE_NONE;
            for (int k = 0; k < 6; k++) found += !strcmp(s.runs[i].run_id, want[k]);
        }
        assert_int_equal(untuned, 6);
        assert_int_equal(found, 6);
        assert_string_equal(s.tune_keys, variant ? "m" : "-");
        sweep_free(&s);
    }
}

static const char data_conf[] =
    "[sweep]\nname = d\nmetrics = lfw_acc_mean, val_rank1\n"
    "[base]\nseed = 1, 2\nnoise = 0.2\neval.fake = ok\n"
    "[data.easy]\nnoise = 0.1\n"
    "[data.hard]\nnoise = 0.5\nlabel_noise = 0.1\n"
    "[head.full]\n"
    "[head.dcq]\ndata = hard\nqueue_len = 8\n";

static void test_data_expansion(void **state)
{
    (void)state;
    struct sweep s;
    struct dcqb_err err = {0};
    int rc = load_text(&s, "data.conf", data_conf, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    assert_int_equal(s.n_runs, 2 * 2 + 1 * 2); /* full: 2 data x 2 seeds; dcq: hard only */
    int n[2][2] = {{0}}; /* [full, dcq][easy, hard] */
    for (int i = 0; i < s.n_runs; i++) {
        const struct sweep_run *r = &s.runs[i];
        int dcq = !strcmp(val_of(r, "head"), "dcq"), hard = !strcmp(val_of(r, "report.data"), "hard");
        n[dcq][hard]++;
        assert_string_equal(val_of(r, "noise"), hard ? "0.5" : "0.1"); /* overrides [base] */
        if (hard) assert_string_equal(val_of(r, "label_noise"), "0.1");
        else assert_null(val_of(r, "label_noise"));
        assert_int_equal(r->tune, SWEEP_TUNE_NONE);
        assert_null(strstr(r->conf, "# tune"));
    }
    assert_int_equal(n[0][0], 2);
    assert_int_equal(n[0][1], 2);
    assert_int_equal(n[1][0], 0);
    assert_int_equal(n[1][1], 2);

    /* runs.tsv gets a report.data column filled from each run */
    const char *exec = fake_exec(), *res = tpath("res_data");
    rm_rf(res);
    struct sweep_opts o = opts(exec, res);
    struct sweep_result r;
    assert_int_equal(sweep_execute(&s, &o, &r, &err), DCQB_OK);
    assert_int_equal(r.ok, 6);
    char p[600];
    snprintf(p, sizeof p, "%s/d/runs.tsv", res);
    struct tsv t;
    assert_int_equal(tsv_load(&t, p, &err), DCQB_OK);
    assert_true(tsv_col(&t, "report.data") >= 0);
    for (int i = 0; i < s.n_runs; i++) {
        assert_string_equal(cell_of(&t, s.runs[i].run_id, "report.data"),
                            val_of(&s.runs[i], "report.data"));
        assert_string_equal(cell_of(&t, s.runs[i].run_id, "tune"), "-");
        assert_string_equal(cell_of(&t, s.runs[i].run_id, "tune_keys"), "-");
    }
    tsv_free(&t);
    sweep_free(&s);

    expect_error("[data.a]\nlr = 0.1\n[head.full]\n", ":2: 'lr' is not a data key");
    expect_error("[data.a]\nnoise = 0.1, 0.2\n[head.full]\n", ":2: 'noise' lists values");
    expect_error("[data.a]\nnoise = 0.1\n[head.full]\ndata = a, b\n",
                 ":4: [head.full] names data configuration 'b'");
    expect_error("[head.full]\ndata = a\n", ":2: [head.full] names data configuration 'a'");
    expect_error("[data.a]\nnoise = 0.1\n[head.full]\nnoise = 0.3\n",
                 ":4: 'noise' is set by [data.a] (line 2)");
}

static const char tune_conf[] =
    "[sweep]\nname = tu\nmetrics = lfw_acc_mean, val_rank1\n"
    "[base]\nseed = 1, 2\neval.fake = ok\n"
    "[tune]\ngrid.lr = 0.1, 0.4, 0.2\ngrid.s = 30, 64\nseed = 7\n"
    "[head.full]\ntune = 1\n"
    "[head.dcq]\ntune = 1\nqueue_len = 8\n"
    "[head.random]\n";

/* lr slowest: points (0.1,30) (0.1,64) (0.4,30) (0.4,64) (0.2,30) (0.2,64) */
static void test_tune_expansion(void **state)
{
    (void)state;
    struct sweep s;
    struct dcqb_err err = {0};
    int rc = load_text(&s, "tune.conf", tune_conf, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    assert_int_equal(s.n_points, 6);
    assert_int_equal(s.n_groups, 2);
    assert_string_equal(s.tune_keys, "lr,s");
    assert_string_equal(s.grid_val[2 * 2 + 0], "0.4");
    assert_string_equal(s.grid_val[2 * 2 + 1], "30");
    /* per tuned section: 6 grid runs at seed 7, 6 x 2 candidates, 2 open slots; random 2 */
    assert_int_equal(s.n_runs, 2 * (6 + 12 + 2) + 2);
    int grid[2] = {0}, cand[2] = {0}, slot[2] = {0}, none = 0;
    for (int i = 0; i < s.n_runs; i++) {
        const struct sweep_run *r = &s.runs[i];
        if (r->tune == SWEEP_TUNE_NONE) {
            none++;
            assert_null(val_of(r, "lr"));
            continue;
        }
        int g = r->group;
        assert_true(g == 0 || g == 1);
        assert_string_equal(s.groups[g].section, g ? "head.dcq" : "head.full");
        assert_string_equal(val_of(r, "head"), g ? "dcq" : "full");
        if (r->tune == SWEEP_TUNE_GRID) {
            grid[g]++;
            assert_string_equal(val_of(r, "seed"), "7");
            assert_string_equal(val_of(r, "lr"), s.grid_val[r->point * 2]);
            assert_string_equal(val_of(r, "s"), s.grid_val[r->point * 2 + 1]);
            assert_string_equal(s.groups[g].grid_id[r->point], r->run_id);
            assert_non_null(strstr(r->conf, "\n# tune = grid\n"));
        } else if (r->point >= 0) {
            cand[g]++;
            assert_string_not_equal(val_of(r, "seed"), "7");
            assert_string_equal(val_of(r, "lr"), s.grid_val[r->point * 2]);
            assert_non_null(strstr(r->conf, "\n# tune = best\n"));
        } else {
            slot[g]++;
            assert_null(val_of(r, "lr")); /* no grid point yet */
            assert_null(val_of(r, "s"));
        }
    }
    for (int g = 0; g < 2; g++) {
        assert_int_equal(grid[g], 6);
        assert_int_equal(cand[g], 12);
        assert_int_equal(slot[g], 2);
    }
    assert_int_equal(none, 2);
    sweep_free(&s);

    /* [tune] data = NAME: grid runs on that configuration only, one choice for all */
    rc = load_text(&s, "tuned.conf",
                   "[sweep]\nmetrics = val_rank1\n[data.a]\nnoise = 0.1\n[data.b]\nnoise = 0.2\n"
                   "[tune]\ngrid.lr = 0.1, 0.2\nseed = 5\ndata = b\n[head.full]\ntune = 1\n",
                   &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    assert_int_equal(s.n_groups, 1);
    assert_string_equal(s.groups[0].data, "b");
    assert_int_equal(s.n_runs, 2 + 2 * (2 + 1)); /* grid on b; candidates + slot on a and b */
    for (int i = 0; i < s.n_runs; i++)
        if (s.runs[i].tune == SWEEP_TUNE_GRID)
            assert_string_equal(val_of(&s.runs[i], "report.data"), "b");
        else
            assert_int_equal(s.runs[i].group, 0);
    sweep_free(&s);

    static const char hd[] = "[sweep]\nmetrics = val_rank1\n[tune]\ngrid.lr = 0.1, 0.2\n"
                             "seed = 5\n";
    char t[512];
    snprintf(t, sizeof t, "%s[head.full]\ntune = 1\nlr = 0.3\n", hd);
    expect_error(t, ":8: 'lr' is a [tune] grid key (line 4)");
    snprintf(t, sizeof t, "%s[head.full]\ntune = 1\nm = 0.3, 0.4\n", hd);
    expect_error(t, ":8: 'm' lists 2 values, and [head.full] is tuned");
    snprintf(t, sizeof t, "%s[head.full]\ntune = 1\nseed = 4, 5\n", hd);
    expect_error(t, ":5: the tuning seed 5 is also a seed of [head.full]'s test runs");
    snprintf(t, sizeof t, "%s[head.full]\n", hd);
    expect_error(t, ":3: [tune] but no head section has tune = 1");
    snprintf(t, sizeof t, "%s[head.full]\ntune = 1\n", "[sweep]\nmetrics = lfw_acc_mean\n"
             "[tune]\ngrid.lr = 0.1, 0.2\nseed = 5\n");
    expect_error(t, ":3: [tune] chooses by val_rank1");
    expect_error("[head.full]\ntune = 1\n", ":2: tune = 1 needs a [tune] section");
    expect_error("[tune]\ngrid.lr = 0.1\nseed = 5\nfoo = 1\n[head.full]\ntune = 1\n",
                 ":4: unknown key 'foo' in [tune]");
    expect_error("[tune]\ngrid.lr = 0.1\ngrid.seed = 3\n[head.full]\ntune = 1\n",
                 ":3: 'seed' cannot be tuned");
    expect_error("[tune]\ngrid.lr = 0.1\nseed = 5\ndata = x\n[head.full]\ntune = 1\n",
                 ":4: [tune] data = x: no [data.x] section");
}

/* A hand-written runs.tsv: the choice is the best val_rank1 among each group's ok grid rows
 * (the last row of a run_id is current), ties to the first point in grid order. */
static void test_tune_choice_from_ledger(void **state)
{
    (void)state;
    struct sweep s;
    struct dcqb_err err = {0};
    assert_int_equal(load_text(&s, "tune.conf", tune_conf, &err), DCQB_OK);
    const char *res = tpath("res_choice");
    rm_rf(res);
    char p[600];
    snprintf(p, sizeof p, "%s/tu", res);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", p);
    assert_int_equal(system(cmd), 0);
    snprintf(p, sizeof p, "%s/tu/runs.tsv", res);
    struct sweep_choice c;
    /* no runs.tsv yet: both groups still tuning; their open slots wait */
    assert_int_equal(sweep_tune_choose(&c, &s, res, &err), DCQB_OK);
    assert_int_equal(c.chosen[0], SWEEP_CHOICE_PENDING);
    assert_int_equal(c.chosen[1], SWEEP_CHOICE_PENDING);
    for (int i = 0; i < s.n_runs; i++) {
        const struct sweep_run *r = &s.runs[i];
        int st = sweep_run_state(&s, &c, i);
        if (r->tune == SWEEP_TUNE_BEST)
            assert_int_equal(st, r->point < 0 ? SWEEP_RUN_WAITING : SWEEP_RUN_UNCHOSEN);
        else
            assert_int_equal(st, SWEEP_RUN_ACTIVE);
    }
    sweep_choice_free(&c);

    /* group 0 (full): 0.5, 0.7, fail, 0.7 (tie: point 1 wins), 0.9 then failed on a later
     * row, 0.2. group 1 (dcq): every point failed, point 0 after an earlier ok row. */
    static const char *const v0[] = {"0.5", "0.7", NULL, "0.7", NULL, "0.2"};
    struct sbuf b = {0};
    sb_str(&b, "schema\trun_id\tstatus\tval_rank1\n");
    sb_printf(&b, "3\t%s\tok\t0.99\n", s.groups[1].grid_id[0]);
    sb_printf(&b, "3\t%s\tok\t0.9\n", s.groups[0].grid_id[4]);
    for (int q = 0; q < 6; q++) {
        sb_printf(&b, "3\t%s\t%s\t%s\n", s.groups[0].grid_id[q], v0[q] ? "ok" : "fail",
                  v0[q] ? v0[q] : "NA");
        sb_printf(&b, "3\t%s\tfail\tNA\n", s.groups[1].grid_id[q]);
    }
    sb_printf(&b, "3\t%s\tok\t0.95", s.groups[0].grid_id[5]); /* torn: no newline */
    test_write_file(p, b.p);
    sb_free(&b);
    assert_int_equal(sweep_tune_choose(&c, &s, res, &err), DCQB_OK);
    assert_int_equal(c.chosen[0], 1);
    assert_int_equal(c.chosen[1], SWEEP_CHOICE_NONE);
    assert_int_equal(c.n_ok[0], 4);
    assert_string_equal(sweep_tune_failure(&c, 1), "tuning: no run of the grid succeeded");
    int active = 0, failed = 0;
    for (int i = 0; i < s.n_runs; i++) {
        const struct sweep_run *r = &s.runs[i];
        int st = sweep_run_state(&s, &c, i);
        if (r->tune != SWEEP_TUNE_BEST) continue;
        if (r->group == 0) assert_int_equal(st, r->point == 1 ? SWEEP_RUN_ACTIVE
                                                                : SWEEP_RUN_UNCHOSEN);
        else assert_int_equal(st, r->point < 0 ? SWEEP_RUN_TUNE_FAILED : SWEEP_RUN_UNCHOSEN);
        active += st == SWEEP_RUN_ACTIVE;
        failed += st == SWEEP_RUN_TUNE_FAILED;
    }
    assert_int_equal(active, 2); /* full at (0.1, 64), seeds 1 and 2 */
    assert_int_equal(failed, 2);
    /* tuning.tsv: one row per group and point, the chosen one marked */
    assert_int_equal(sweep_tune_write(&s, &c, res, &err), DCQB_OK);
    snprintf(p, sizeof p, "%s/tu/tuning.tsv", res);
    char *text = test_slurp(p);
    assert_non_null(text);
    assert_int_equal(count_lines(text), 1 + 2 * 6);
    static const char hdr[] = "section\tdata\tpoint\tlr\ts\trun_id\tstate\tval_rank1\tchosen\n";
    assert_memory_equal(text, hdr, strlen(hdr));
    char want[200];
    snprintf(want, sizeof want, "head.full\tNA\t1\t0.1\t64\t%s\tok\t0.69999999999999996\t1\n",
             s.groups[0].grid_id[1]);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "head.full\tNA\t4\t0.2\t30\t%s\tfail\tNA\t0\n",
             s.groups[0].grid_id[4]);
    assert_non_null(strstr(text, want));
    free(text);
    char d[600];
    sweep_tune_describe(d, sizeof d, &s, &c, 0);
    assert_non_null(strstr(d, "chose lr=0.1 s=64 (val_rank1 0.7000; 4 of 6 grid runs ok)"));
    sweep_choice_free(&c);
    sweep_free(&s);
}

/* Two sections of one arm, split by data configuration and both tuned on [tune] data, share
 * their grid runs (one run_id each): every section sees every shared run's row, so they make
 * the same choice and neither waits for a run already done. */
static void test_tune_shared_grid_runs(void **state)
{
    (void)state;
    static const char conf[] =
        "[sweep]\nname = tsh\nmetrics = val_rank1\n"
        "[base]\nseed = 1\neval.fake = ok\n"
        "[data.a]\n[data.b]\nnoise = 0.2\n"
        "[tune]\ngrid.s = 32, 64\nseed = 9\ndata = a\n"
        "[head.full.x]\ntune = 1\ndata = a\n"
        "[head.full.y]\ntune = 1\ndata = b\n";
    struct sweep s;
    struct dcqb_err err = {0};
    assert_int_equal(load_text(&s, "tsh.conf", conf, &err), DCQB_OK);
    assert_int_equal(s.n_groups, 2);
    for (int p = 0; p < 2; p++)
        assert_string_equal(s.groups[0].grid_id[p], s.groups[1].grid_id[p]);
    const char *res = tpath("res_shared");
    rm_rf(res);
    char p[600], cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/tsh", res);
    assert_int_equal(system(cmd), 0);
    snprintf(p, sizeof p, "%s/tsh/runs.tsv", res);
    struct sbuf b = {0};
    sb_str(&b, "schema\trun_id\tstatus\tval_rank1\n");
    sb_printf(&b, "3\t%s\tok\t0.4\n", s.groups[0].grid_id[0]);
    sb_printf(&b, "3\t%s\tok\t0.6\n", s.groups[0].grid_id[1]);
    test_write_file(p, b.p);
    sb_free(&b);
    struct sweep_choice c;
    assert_int_equal(sweep_tune_choose(&c, &s, res, &err), DCQB_OK);
    assert_int_equal(c.chosen[0], 1);
    assert_int_equal(c.chosen[1], 1);
    sweep_choice_free(&c);
    sweep_free(&s);
}

/* The runner: grid runs first, then test runs at the chosen point; resume reruns nothing;
 * --stage test refused before tuning ended; all grid runs failed -> failed test rows. */
static void test_tune_runner(void **state)
{
    (void)state;
    const char *exec = fake_exec(), *res = tpath("res_tune");
    rm_rf(res);
    struct sweep s;
    struct dcqb_err err = {0};
    assert_int_equal(load_text(&s, "tune.conf", tune_conf, &err), DCQB_OK);
    struct sweep_opts o = opts(exec, res);
    struct sweep_result r;
    /* --stage test with no grid row yet: refused naming the section, nothing run */
    o.stage = SWEEP_STAGE_TEST;
    assert_int_equal(sweep_execute(&s, &o, &r, &err), DCQB_EINVAL);
    assert_non_null(strstr(err.msg, "grid runs of [head."));
    assert_non_null(strstr(err.msg, "run --stage tune first"));
    assert_int_equal(r.ok + r.failed, 0);
    /* --stage tune: only the 12 grid runs */
    o.stage = SWEEP_STAGE_TUNE;
    int rc = sweep_execute(&s, &o, &r, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, DCQB_OK);
    assert_int_equal(r.total, 12);
    assert_int_equal(r.ok, 12);
    /* --stage test: the rest; val_rank1 = lr, so lr = 0.4, and the tie s = 30 / 64 -> 30 */
    o.stage = SWEEP_STAGE_TEST;
    assert_int_equal(sweep_execute(&s, &o, &r, &err), DCQB_OK);
    assert_int_equal(r.total, 2 * 2 + 2);
    assert_int_equal(r.ok, 6);
    char p[600];
    snprintf(p, sizeof p, "%s/tu/runs.tsv", res);
    struct tsv t;
    assert_int_equal(tsv_load(&t, p, &err), DCQB_OK);
    assert_int_equal(t.rows, 1 + 12 + 6);
    int c_tune = tsv_col(&t, "tune"), c_keys = tsv_col(&t, "tune_keys"), c_lr = tsv_col(&t, "lr"),
        c_s = tsv_col(&t, "s"), c_seed = tsv_col(&t, "seed"), best = 0;
    for (int k = 1; k < t.rows; k++) {
        const char *tu = tsv_get(&t, k, c_tune);
        assert_string_equal(tsv_get(&t, k, c_keys), strcmp(tu, "-") ? "lr,s" : "-");
        if (strcmp(tu, "best")) continue;
        best++;
        assert_string_equal(tsv_get(&t, k, c_lr), "0.4");
        assert_string_equal(tsv_get(&t, k, c_s), "30");
        assert_string_not_equal(tsv_get(&t, k, c_seed), "7");
    }
    assert_int_equal(best, 4);
    tsv_free(&t);
    snprintf(p, sizeof p, "%s/tu/tuning.tsv", res);
    char *text = test_slurp(p);
    assert_non_null(text);
    assert_non_null(strstr(text, "\t2\t0.4\t30\t"));
    free(text);
    /* rerun (all stages): nothing runs again, the choice is the same */
    o.stage = SWEEP_STAGE_ALL;
    assert_int_equal(sweep_execute(&s, &o, &r, &err), DCQB_OK);
    assert_int_equal(r.ok + r.failed, 0);
    assert_int_equal(r.skipped, 12 + 6);
    for (int i = 0; i < s.n_runs; i++) {
        int st = s.runs[i].tune == SWEEP_TUNE_BEST
                     ? (!strcmp(val_of(&s.runs[i], "lr") ? val_of(&s.runs[i], "lr") : "", "0.4") &&
                        !strcmp(val_of(&s.runs[i], "s"), "30"))
                     : 1;
        assert_int_equal(attempts(res, &s, i), st);
    }
    sweep_free(&s);

    /* every grid run fails: the test slots become failed rows with the reason, no child runs */
    rm_rf(res);
    assert_int_equal(load_text(&s, "tune.conf",
                               "[sweep]\nname = tf\nmetrics = val_rank1\n[base]\nseed = 1, 2\n"
                               "eval.fake = gridfail\n[tune]\ngrid.lr = 0.1, 0.2\nseed = 7\n"
                               "[head.full]\ntune = 1\n", &err), DCQB_OK);
    assert_int_equal(sweep_execute(&s, &o, &r, &err), DCQB_OK);
    assert_int_equal(r.ok, 0);
    assert_int_equal(r.failed, 2 + 2);
    snprintf(p, sizeof p, "%s/tf/runs.tsv", res);
    assert_int_equal(tsv_load(&t, p, &err), DCQB_OK);
    int n_slot = 0;
    for (int i = 0; i < s.n_runs; i++) {
        if (s.runs[i].tune != SWEEP_TUNE_BEST || s.runs[i].point >= 0) continue;
        n_slot++;
        assert_string_equal(cell_of(&t, s.runs[i].run_id, "status"), "fail");
        assert_string_equal(cell_of(&t, s.runs[i].run_id, "err_msg"),
                            "tuning: no run of the grid succeeded");
        assert_string_equal(cell_of(&t, s.runs[i].run_id, "lr"), "NA");
        assert_int_equal(attempts(res, &s, i), 0);
    }
    assert_int_equal(n_slot, 2);
    tsv_free(&t);
    sweep_free(&s);
}

/* The CLI's --stage: a bad name and --stage test before tuning are bad input (exit 2, the
 * section named); --dry-run lists the open test slots as waiting, and --stage tune lists only
 * the grid. */
static void test_cli_stage(void **state)
{
    (void)state;
    const char *bin = getenv("DCQBENCH");
    if (!bin) bin = "bin/dcqbench";
    const char *exec = fake_exec(), *res = tpath("res_cli_stage"), *conf = tpath("tu.conf");
    rm_rf(res);
    test_write_file(conf, tune_conf);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s sweep %s --exec %s --results %s --stage bogus 2>/dev/null", bin,
             conf, exec, res);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "%s sweep %s --exec %s --results %s --stage test 2>&1 | "
             "grep -c 'grid runs of \\[head.full\\] have not all ended'", bin, conf, exec, res);
    FILE *f = popen(cmd, "r");
    int n = -1;
    assert_int_equal(fscanf(f, "%d", &n), 1);
    pclose(f);
    assert_int_equal(n, 1);
    snprintf(cmd, sizeof cmd, "%s sweep %s --exec %s --results %s --stage test 2>/dev/null", bin,
             conf, exec, res);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    static const char *const greps[][2] = {{"", "^- waiting-for-tuning .* lr,s=?$"},
                                           {"--stage tune", "(tune: grid)$"},
                                           {"--stage tune", "waiting-for-tuning"}};
    static const int want[] = {2 * 2, 2 * 6, 0};
    for (int k = 0; k < 3; k++) {
        snprintf(cmd, sizeof cmd, "%s sweep %s --dry-run %s --results %s | grep -c '%s'", bin,
                 conf, greps[k][0], res, greps[k][1]);
        f = popen(cmd, "r");
        n = -1;
        assert_int_equal(fscanf(f, "%d", &n), 1);
        pclose(f);
        assert_int_equal(n, want[k]);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv_vectors),
        cmocka_unit_test(test_canon_value),
        cmocka_unit_test(test_expand_counts),
        cmocka_unit_test(test_hash_independent_of_order),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_runs_failures_and_resume),
        cmocka_unit_test(test_shards_partition_and_merge),
        cmocka_unit_test(test_header_mismatch_refused),
        cmocka_unit_test(test_cli_exit_status),
        cmocka_unit_test(test_cli_sigint),
        cmocka_unit_test(test_ids_unchanged_without_new_sections),
        cmocka_unit_test(test_data_expansion),
        cmocka_unit_test(test_tune_expansion),
        cmocka_unit_test(test_tune_choice_from_ledger),
        cmocka_unit_test(test_tune_shared_grid_runs),
        cmocka_unit_test(test_tune_runner),
        cmocka_unit_test(test_cli_stage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
