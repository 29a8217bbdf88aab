/* fuzz_libfuzzer.c - libFuzzer's entry point over a harness's fuzz_one (see fuzz.h). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    return fuzz_one(data, n);
}
