/* checkpoint.c - see checkpoint.h: the checkpoint file format, the one place that knows which
 * parts of a trainer make up its resumable state and in what order. */
#include "checkpoint.h"

#include <errno.h>
#include <zlib.h>

#include "train.h"
#include "train_priv.h"
#include "tsv.h"

/* Layout (little endian, this machine's float format):
 *   "DCQBCKPT" | u32 version | u32 crc | u64 payload bytes | u64 compressed bytes
 *   | u64 config hash | i64 step | zlib(payload)
 * payload = net params | net running | momentum | [ema params | ema running]
 *           | head state | rng shuffle state | rng aug state | rng ref state
 *           | loss bookkeeping | loop records (struct train_stats)
 * The EMA network is there whenever the run keeps one (the head's, or ema = 1).
 * crc = crc32 of the header with the crc field zeroed, continued over the payload: a flipped
 * bit anywhere, the step included, is refused (version 1 checked the payload only; version 3
 * added the reference stream and the loop records; older files are refused, and a sweep moves
 * them aside). */
#define CKPT_MAGIC "DCQBCKPT"
#define CKPT_VERSION 3u

struct ckpt_hdr {
    char magic[8];
    uint32_t version, crc;
    uint64_t raw_bytes, z_bytes, cfg_hash;
    int64_t step;
};

/* The CRC of header h (its crc field taken as 0) and the raw payload. */
static uint32_t ckpt_crc(const struct ckpt_hdr *h, const unsigned char *buf, size_t raw)
{
    struct ckpt_hdr z = *h;
    z.crc = 0;
    uLong c = crc32(0L, (const Bytef *)&z, (uInt)sizeof z);
    return (uint32_t)crc32(c, buf, (uInt)raw);
}

struct span {
    void *p;
    size_t n;
};

static int ckpt_spans(const struct trainer *tr, struct span *sp, void *head_blob, size_t head_n)
{
    struct train_priv *p = tr->priv;
    int k = 0;
    sp[k++] = (struct span){tr->net.params, tr->net.n_params * sizeof(float)};
    sp[k++] = (struct span){tr->net.running, tr->net.n_running * sizeof(float)};
    sp[k++] = (struct span){p->mom, tr->net.n_params * sizeof(float)};
    if (tr->has_ema) {
        sp[k++] = (struct span){tr->ema.params, tr->ema.n_params * sizeof(float)};
        sp[k++] = (struct span){tr->ema.running, tr->ema.n_running * sizeof(float)};
    }
    sp[k++] = (struct span){head_blob, head_n};
    sp[k++] = (struct span){gsl_rng_state(p->r_shuffle), gsl_rng_size(p->r_shuffle)};
    sp[k++] = (struct span){gsl_rng_state(p->r_aug), gsl_rng_size(p->r_aug)};
    sp[k++] = (struct span){gsl_rng_state(p->r_ref), gsl_rng_size(p->r_ref)};
    sp[k++] = (struct span){p->loss_ring, (size_t)p->ring * sizeof(double)};
    sp[k++] = (struct span){&p->first_sum, sizeof p->first_sum};
    sp[k++] = (struct span){&p->first_n, sizeof p->first_n};
    sp[k++] = (struct span){&p->st, sizeof p->st};
    return k;
}

int trainer_save(const struct trainer *tr, const char *path, struct dcqb_err *err)
{
    size_t head_n = head_state_bytes(&tr->head);
    void *head_blob = malloc(head_n ? head_n : 1);
    if (!head_blob) return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory saving %s", path);
    int rc = head_save(&tr->head, head_blob, err);
    if (rc) {
        free(head_blob);
        return DCQB_FAIL(err, rc, "head '%s' failed to serialise its state", head_name(&tr->head));
    }
    struct span sp[16];
    int ns = ckpt_spans(tr, sp, head_blob, head_n);
    size_t raw = 0;
    for (int i = 0; i < ns; i++) raw += sp[i].n;
    unsigned char *buf = malloc(raw ? raw : 1);
    uLongf zn = compressBound((uLong)raw);
    unsigned char *z = malloc(zn);
    if (!buf || !z) {
        free(head_blob);
        free(buf);
        free(z);
        return DCQB_FAIL(err, DCQB_ENOMEM, "out of memory saving %s (%zu bytes)", path, raw);
    }
    size_t off = 0;
    for (int i = 0; i < ns; i++) {
        memcpy(buf + off, sp[i].p, sp[i].n);
        off += sp[i].n;
    }
    free(head_blob);
    struct ckpt_hdr h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CKPT_MAGIC, 8);
    h.version = CKPT_VERSION;
    h.raw_bytes = raw;
    h.cfg_hash = tr->cfg_hash;
    h.step = tr->t;
    /* level 1: checkpoints are written often; float noise compresses little anyway */
    if (compress2(z, &zn, buf, (uLong)raw, 1) != Z_OK) {
        free(buf);
        free(z);
        return DCQB_FAIL(err, DCQB_EIO, "%s: compression failed", path);
    }
    h.z_bytes = zn;
    h.crc = ckpt_crc(&h, buf, raw);
    free(buf);
    const void *const parts[2] = {&h, z};
    const size_t sizes[2] = {sizeof h, zn};
    rc = file_write_atomic_parts(path, parts, sizes, 2, err);
    free(z);
    return rc;
}

int trainer_load(struct trainer *tr, const char *path, struct dcqb_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return DCQB_FAIL(err, DCQB_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct ckpt_hdr h;
    unsigned char *z = NULL, *buf = NULL;
    int rc = DCQB_OK;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, CKPT_MAGIC, 8) != 0) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: not a dcqbench checkpoint", path);
        goto out;
    }
    if (h.version != CKPT_VERSION) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: checkpoint version %u, this build reads %u", path,
                       h.version, CKPT_VERSION);
        goto out;
    }
    if (h.cfg_hash != tr->cfg_hash) {
        rc = DCQB_FAIL(err, DCQB_EINVAL, "%s: checkpoint belongs to another configuration "
                       "(config hash differs); start a new run directory", path);
        goto out;
    }
    struct span sp[16];
    size_t head_n = head_state_bytes(&tr->head);
    void *head_blob = NULL;
    int ns = ckpt_spans(tr, sp, NULL, head_n);
    size_t raw = 0;
    for (int i = 0; i < ns; i++) raw += sp[i].n;
    if (h.raw_bytes != raw || h.z_bytes > (uint64_t)compressBound((uLong)raw)) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: checkpoint holds %llu bytes, this configuration "
                       "needs %zu", path, (unsigned long long)h.raw_bytes, raw);
        goto out;
    }
    z = malloc(h.z_bytes ? h.z_bytes : 1);
    buf = malloc(raw ? raw : 1);
    if (!z || !buf) {
        rc = DCQB_FAIL(err, DCQB_ENOMEM, "out of memory loading %s", path);
        goto out;
    }
    if (fread(z, 1, h.z_bytes, f) != h.z_bytes) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: truncated checkpoint", path);
        goto out;
    }
    uLongf got = (uLongf)raw;
    if (uncompress(buf, &got, z, (uLong)h.z_bytes) != Z_OK || got != raw ||
        ckpt_crc(&h, buf, raw) != h.crc || fgetc(f) != EOF) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: corrupt checkpoint (CRC, zlib stream or length)",
                       path);
        goto out;
    }
    /* inside the CRC, but a step outside the run would index past the schedule */
    if (h.step < 0 || h.step > tr->o.steps) {
        rc = DCQB_FAIL(err, DCQB_EFORMAT, "%s: checkpoint step %lld outside this run's [0, %lld]",
                       path, (long long)h.step, (long long)tr->o.steps);
        goto out;
    }
    size_t off = 0;
    for (int i = 0; i < ns; i++) {
        if (sp[i].p == NULL) head_blob = buf + off; /* the head span */
        else memcpy(sp[i].p, buf + off, sp[i].n);
        off += sp[i].n;
    }
    if ((rc = head_load(&tr->head, head_blob, head_n, err))) goto out;
    tr->t = h.step;
out:
    free(z);
    free(buf);
    fclose(f);
    return rc;
}
