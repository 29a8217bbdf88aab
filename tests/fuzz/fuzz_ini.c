/* fuzz_ini.c - a train config file as `dcqbench train --config` reads it: the INI reader
 * (harness/core/cfg.h), then every key of the train table through its typed getter. */
#include "fuzz.h"

#include "cfg.h"
#include "keys.h"
#include "train_keys.h"

int fuzz_one(const uint8_t *data, size_t n)
{
    const char *path = fuzz_file(data, n);
    if (!*path) return 0;
    struct dcqb_err err = {0};
    struct cfg c = {0};
    if (cfg_load_ini(&c, path, "train", &err) == DCQB_OK) {
        struct train_settings s;
        train_settings_defaults(&s);
        if (keys_read(&s, train_keys, KEY_DEFINES_RUN | KEY_EXECUTION | KEY_EVAL, &c, &err) ==
            DCQB_OK)
            (void)cfg_check_unused(&c, &err);
    }
    cfg_free(&c);
    return 0;
}
