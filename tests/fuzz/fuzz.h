/* fuzz.h - one reader per harness: each fuzz_<name>.c defines fuzz_one(), which feeds one input
 * to the reader exactly as the tool reads such a file and frees everything it got back.
 *
 * The same harness builds two ways: with fuzz_libfuzzer.c under clang's libFuzzer (`make fuzz`,
 * -fsanitize=fuzzer,address,undefined) and with fuzz_replay.c under the normal compiler, a cmocka
 * test that replays tests/fuzz/corpus/<name>/ and tests/fuzz/regress/<name>/ in `make test`, so
 * CI needs no clang and every input that once crashed stays a test. */
#ifndef DCQB_FUZZ_H
#define DCQB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Feed one input to the reader; 0 always (a refusal is a correct answer, a crash is not). */
int fuzz_one(const uint8_t *data, size_t n);

/* Most readers take a path: write the input to a per-process scratch file under $TMPDIR (or
 * /tmp) and return its name ("" when it cannot be written: the input is then skipped). */
const char *fuzz_file(const uint8_t *data, size_t n);

/* The TSV readers take text: a malloc'd NUL-terminated copy of the input (NULL when out of
 * memory), which tsv_parse then owns. */
char *fuzz_text(const uint8_t *data, size_t n);

#endif
