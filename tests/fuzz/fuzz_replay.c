/* fuzz_replay.c - `make test`'s side of a fuzz harness (see fuzz.h): one cmocka test that feeds
 * every file of tests/fuzz/corpus/<name>/ and tests/fuzz/regress/<name>/ to fuzz_one. Built with
 * the normal compiler (and with ASan in `make check-san`); a crash or a leak there fails it. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME=\"npy\" (the harness's name)"
#endif

static int replay_dir(const char *dir, int required)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (required) fail_msg("%s: missing (every harness has a seed corpus)", dir);
        return 0;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *buf = malloc(len > 0 ? (size_t)len : 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        fuzz_one(buf, (size_t)len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void test_replay(void **state)
{
    (void)state;
    int n = replay_dir("tests/fuzz/corpus/" FUZZ_NAME, 1);
    assert_true(n > 0);
    int m = replay_dir("tests/fuzz/regress/" FUZZ_NAME, 0);
    printf("fuzz replay %s: %d corpus inputs, %d regression inputs\n", FUZZ_NAME, n, m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_replay)};
    return cmocka_run_group_tests_name("fuzz_replay_" FUZZ_NAME, tests, NULL, NULL);
}
