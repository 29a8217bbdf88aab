/* head_registry.c - the list of heads and head_open, the one place that allocates a head's
 * state (head.h; docs/ADDING_A_HEAD.md: a new head is one .c file plus one line in `registry`
 * below, plus its row in tests/test_heads.c).
 */
#include "head.h"

#include <stdlib.h>
#include <string.h>

extern const struct head_ops head_full, head_random, head_dcq, head_sampled;

/* Registry order is the report's row order (tables, derived TSVs, plot colours). */
static const struct head_ops *const registry[] = {
    &head_full,
    &head_random,
    &head_sampled,
    &head_dcq,
    NULL,
};

const struct head_ops *head_find(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; registry[i]; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}

const struct head_ops *const *head_list(void) { return registry; }

int head_open(struct head *h, const char *name, const struct head_cfg *cfg, struct dcqb_err *err)
{
    memset(h, 0, sizeof *h);
    const struct head_ops *ops = head_find(name);
    if (!ops) {
        char list[160] = "";
        for (int i = 0; registry[i]; i++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", registry[i]->name);
        }
        return DCQB_FAIL(err, DCQB_EINVAL, "unknown head '%s' (heads: %s)", name ? name : "(null)",
                         list);
    }
    if (ops->abi_version != HEAD_ABI_VERSION)
        return DCQB_FAIL(err, DCQB_EINVAL, "%s: head ABI version %d, this build expects %d",
                         ops->name, ops->abi_version, HEAD_ABI_VERSION);
    void *st = calloc(1, ops->state_size ? ops->state_size : 1);
    if (!st)
        return DCQB_FAIL(err, DCQB_ENOMEM, "%s: out of memory for its state (%zu bytes)",
                         ops->name, ops->state_size);
    /* kshot 1 unless the head asks for more: the key is one reference embedding */
    struct head tmp = {.ops = ops, .st = st, .req = {.kshot = 1}};
    int rc = ops->init(st, cfg, &tmp.req, err);
    if (rc) {
        ops->free(st);
        free(st);
        return head_err_prefix(ops->name, rc, err);
    }
    if (tmp.req.kshot < 1) tmp.req.kshot = 1;
    *h = tmp;
    return DCQB_OK;
}

