/* test_layers.c - the layering of docs/ARCHITECTURE.md §1, checked on the real tree.
 *
 * 1. Includes point down: every `#include "x.h"` in the library's sources resolves (the same
 *    way the compiler's -I list does) to a header in a folder of the same or a lower layer, and
 *    a folder never includes a header of another folder on its own layer.
 * 2. No call loops between files: the "file A calls a function defined in file B" graph, read
 *    from the object files with nm(1), has no cycle. A cycle is printed with its files.
 *
 * The sources are found from the repository root (the test runs there); the objects in
 * $DCQB_BUILD (default build/), which `make test` sets.
 */
#include "test_util.h"

#include <dirent.h>
#include <sys/stat.h>

/* Layers, lowest first. A folder on rank r may include headers of folders with rank < r and of
 * itself. algorithms/heads/ is part of algorithms/. */
static const struct layer {
    const char *dir;
    int rank;
} layers[] = {
    {"include", 0},       {"algorithms", 1},     {"algorithms/heads", 1}, {"datasets", 2},
    {"harness/core", 3},  {"harness/train", 4},  {"harness/eval", 5},     {"harness/bench", 5},
    {"harness/sweep", 6}, {"harness/report", 6}, {"harness/cli", 7},
};
#define N_LAYERS (int)(sizeof layers / sizeof layers[0])

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Folder index of the header `name` included from folder `from`: the including file's own
 * folder first, then the -I order of the Makefile. -1: not ours (a build/ or system header). */
static int resolve(int from, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", layers[from].dir, name);
    if (exists(p)) return from;
    static const char *const order[] = {"include", "algorithms", "datasets"};
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s/%s", order[k], name);
        if (exists(p))
            for (int i = 0; i < N_LAYERS; i++)
                if (!strcmp(layers[i].dir, order[k])) return i;
    }
    for (int i = 0; i < N_LAYERS; i++) {
        if (strncmp(layers[i].dir, "harness/", 8)) continue;
        snprintf(p, sizeof p, "%s/%s", layers[i].dir, name);
        if (exists(p)) return i;
    }
    return -1;
}

static int check_file(int li, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024], name[256];
    int bad = 0, ln = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        if (sscanf(line, " # include \"%255[^\"]\"", name) != 1) continue;
        int to = resolve(li, name);
        if (to < 0 || to == li) continue;
        int same_family = !strncmp(layers[li].dir, "algorithms", 10) &&
                          !strncmp(layers[to].dir, "algorithms", 10);
        if (layers[to].rank > layers[li].rank ||
            (layers[to].rank == layers[li].rank && !same_family)) {
            print_error("%s:%d includes %s from %s (layer %d -> %d)\n", path, ln, name,
                        layers[to].dir, layers[li].rank, layers[to].rank);
            bad++;
        }
    }
    fclose(f);
    return bad;
}

static void test_includes_point_down(void **state)
{
    (void)state;
    int bad = 0, files = 0;
    for (int i = 0; i < N_LAYERS; i++) {
        DIR *d = opendir(layers[i].dir);
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t n = strlen(e->d_name);
            if (n < 3 || e->d_name[n - 2] != '.' ||
                (e->d_name[n - 1] != 'c' && e->d_name[n - 1] != 'h'))
                continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", layers[i].dir, e->d_name);
            bad += check_file(i, path);
            files++;
        }
        closedir(d);
    }
    assert_true(files > 50); /* the tree was found */
    assert_int_equal(bad, 0);
}

/* ---- call graph between object files ------------------------------------------------------ */

#define MAX_OBJ 256
#define MAX_SYM 8192

static char obj[MAX_OBJ][256];
static int n_obj;
static struct sym {
    char name[128];
    int o;
} defs[MAX_SYM], undefs[4 * MAX_SYM];
static int n_def, n_undef;
static unsigned char edge[MAX_OBJ][MAX_OBJ];

/* Objects under build/ whose source still exists (a moved file leaves a stale object). */
static void collect(const char *dir, size_t prefix)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        size_t n = strlen(e->d_name);
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (strcmp(e->d_name, "tests")) collect(p, prefix);
        } else if (n > 2 && !strcmp(e->d_name + n - 2, ".o") && n_obj < MAX_OBJ) {
            char src[512];
            snprintf(src, sizeof src, "%.*sc", (int)(strlen(p) - prefix - 1), p + prefix);
            if (exists(src)) snprintf(obj[n_obj++], sizeof obj[0], "%s", p);
        }
    }
    closedir(d);
}

static void read_symbols(int o)
{
    char cmd[600], line[512], a[128], b[128], c[128];
    snprintf(cmd, sizeof cmd, "nm %.500s", obj[o]);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        int k = sscanf(line, "%127s %127s %127s", a, b, c);
        if (k == 3 && strchr("TDBRC", b[0]) && n_def < MAX_SYM) {
            snprintf(defs[n_def].name, sizeof defs[0].name, "%s", c);
            defs[n_def++].o = o;
        } else if (k == 2 && !strcmp(a, "U") && n_undef < 4 * MAX_SYM) {
            snprintf(undefs[n_undef].name, sizeof undefs[0].name, "%s", b);
            undefs[n_undef++].o = o;
        }
    }
    pclose(f);
}

static int mark[MAX_OBJ], stack_[MAX_OBJ], depth;

/* Depth-first search; on a back edge print the loop and return 1. */
static int dfs(int v)
{
    mark[v] = 1;
    stack_[depth++] = v;
    for (int w = 0; w < n_obj; w++) {
        if (!edge[v][w]) continue;
        if (mark[w] == 1) {
            print_error("call loop:");
            int i = depth - 1;
            while (i > 0 && stack_[i] != w) i--;
            for (; i < depth; i++) print_error(" %s ->", obj[stack_[i]]);
            print_error(" %s\n", obj[w]);
            return 1;
        }
        if (!mark[w] && dfs(w)) return 1;
    }
    mark[v] = 2;
    depth--;
    return 0;
}

static void test_no_call_loops(void **state)
{
    (void)state;
    const char *build = getenv("DCQB_BUILD");
    char dir[512];
    snprintf(dir, sizeof dir, "%s", build && *build ? build : "build");
    n_obj = n_def = n_undef = 0;
    static const char *const roots[] = {"algorithms", "datasets", "harness"};
    for (int r = 0; r < 3; r++) {
        char p[1100];
        snprintf(p, sizeof p, "%s/%s", dir, roots[r]);
        collect(p, strlen(dir) + 1);
    }
    assert_true(n_obj > 30); /* the objects were found */
    for (int o = 0; o < n_obj; o++) read_symbols(o);
    memset(edge, 0, sizeof edge);
    for (int u = 0; u < n_undef; u++)
        for (int d = 0; d < n_def; d++)
            if (defs[d].o != undefs[u].o && !strcmp(defs[d].name, undefs[u].name))
                edge[undefs[u].o][defs[d].o] = 1;
    memset(mark, 0, sizeof mark);
    int loops = 0;
    for (int v = 0; v < n_obj && !loops; v++) {
        depth = 0;
        if (!mark[v]) loops = dfs(v);
    }
    assert_int_equal(loops, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_includes_point_down),
        cmocka_unit_test(test_no_call_loops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
