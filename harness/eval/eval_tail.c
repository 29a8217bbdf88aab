/* eval_tail.c - tail diagnostics on held-out images of training identities (docs/METHOD.md §4.4):
 * closed-set top-1 accuracy against class-mean embeddings and against the head's class weights,
 * by training-class-size bucket, and per bucket the mean cosine between each class's weight and
 * its class mean. Plus the class-mean accumulator the caller streams training embeddings into.
 * Conventions (buckets, ties, zero rows) in eval.h.
 */
#include "eval.h"

#include <math.h>
#include <stdlib.h>

#include <cblas.h>

#include "ops.h"

const char *const eval_bucket_names[EVAL_N_BUCKETS] = {"b1_2", "b3_5", "b6_10", "b11_50",
                                                       "b51_plus"};

int eval_bucket_of(int64_t n)
{
    if (n < 1) return -1;
    if (n <= 2) return 0;
    if (n <= 5) return 1;
    if (n <= 10) return 2;
    if (n <= 50) return 3;
    return 4;
}

enum { TAIL_BH = 256, TAIL_BC = 2048 };

/* pred (H) = argmax_c cos(holdout_h, cls_c); rows of cls that are all zero are never chosen.
 * Work space: (BH + BC) * D + BH * BC floats + BC flags + H scores. FLOPs 2*H*C*D. */
static int top1(int32_t *pred, const struct eval_mat *hold, const struct eval_mat *cls,
                struct dcqb_err *err)
{
    const int64_t H = hold->rows, C = cls->rows, D = hold->cols;
    const size_t bytes =
        sizeof(float) * ((size_t)(TAIL_BH + TAIL_BC) * D + (size_t)TAIL_BH * TAIL_BC + (size_t)H) +
        (size_t)TAIL_BC;
    char *mem = malloc(bytes);
    if (!mem) return DCQB_FAIL(err, DCQB_ENOMEM, "tail: out of memory (%.1f MB)", bytes / 1e6);
    float *hbuf = (float *)mem, *cbuf = hbuf + (size_t)TAIL_BH * D,
          *sbuf = cbuf + (size_t)TAIL_BC * D, *best = sbuf + (size_t)TAIL_BH * TAIL_BC;
    unsigned char *valid = (unsigned char *)(best + H);
    for (int64_t h = 0; h < H; h++) {
        best[h] = -INFINITY;
        pred[h] = -1;
    }
    for (int64_t c0 = 0; c0 < C; c0 += TAIL_BC) {
        const int bc = (int)(C - c0 < TAIL_BC ? C - c0 : TAIL_BC);
        l2norm_forward(cbuf, NULL, cls->x + (size_t)c0 * D, bc, (int)D, L2NORM_F64_EXACT);
        for (int j = 0; j < bc; j++) {
            const float *r = cbuf + (size_t)j * D;
            valid[j] = 0;
            for (int64_t k = 0; k < D; k++)
                if (r[k] != 0.0f) {
                    valid[j] = 1;
                    break;
                }
        }
        for (int64_t h0 = 0; h0 < H; h0 += TAIL_BH) {
            const int bh = (int)(H - h0 < TAIL_BH ? H - h0 : TAIL_BH);
            l2norm_forward(hbuf, NULL, hold->x + (size_t)h0 * D, bh, (int)D, L2NORM_F64_EXACT);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bh, bc, (int)D, 1.0f, hbuf, (int)D,
                        cbuf, (int)D, 0.0f, sbuf, bc);
            for (int i = 0; i < bh; i++) {
                const float *row = sbuf + (size_t)i * bc;
                float b = best[h0 + i];
                int32_t arg = pred[h0 + i];
                for (int j = 0; j < bc; j++)
                    if (valid[j] && row[j] > b) { /* strict: earlier class wins ties */
                        b = row[j];
                        arg = (int32_t)(c0 + j);
                    }
                best[h0 + i] = b;
                pred[h0 + i] = arg;
            }
        }
    }
    free(mem);
    return DCQB_OK;
}

int eval_tail_compute(struct eval_tail *t, const struct eval_inputs *in, struct dcqb_err *err)
{
    memset(t, 0, sizeof *t);
    const int64_t H = in->holdout.rows, C = in->class_means.rows, D = in->holdout.cols;
    const int32_t *lab = in->holdout_labels.x, *size = in->class_sizes.x;
    t->n_holdout = H;
    t->n_classes = C;
    t->has_weights = in->class_weights.x != NULL;
    int32_t *pred = malloc(sizeof(int32_t) * (size_t)H);
    if (!pred)
        return DCQB_FAIL(err, DCQB_ENOMEM, "tail: out of memory (%lld held-out)", (long long)H);
    int64_t hit_m[EVAL_N_BUCKETS] = {0}, hit_w[EVAL_N_BUCKETS] = {0};
    int64_t all_m = 0, all_w = 0, all_n = 0;
    int rc = top1(pred, &in->holdout, &in->class_means, err);
    if (rc) goto done;
    for (int64_t h = 0; h < H; h++) {
        int b = eval_bucket_of(size[lab[h]]);
        if (b < 0) continue;
        t->b_holdout[b]++;
        all_n++;
        if (pred[h] == lab[h]) {
            hit_m[b]++;
            all_m++;
        }
    }
    if (t->has_weights) {
        rc = top1(pred, &in->holdout, &in->class_weights, err);
        if (rc) goto done;
        for (int64_t h = 0; h < H; h++) {
            int b = eval_bucket_of(size[lab[h]]);
            if (b >= 0 && pred[h] == lab[h]) {
                hit_w[b]++;
                all_w++;
            }
        }
    }
    /* cos(w_c, m_c) per class, mean per bucket; classes with a zero row are skipped */
    double cos_sum[EVAL_N_BUCKETS] = {0}, cos_all = 0;
    int64_t cos_n[EVAL_N_BUCKETS] = {0}, cos_nall = 0;
    for (int64_t c = 0; c < C; c++) {
        int b = eval_bucket_of(size[c]);
        if (b < 0) continue;
        t->b_classes[b]++;
        if (!t->has_weights) continue;
        const float *w = in->class_weights.x + (size_t)c * D,
                    *m = in->class_means.x + (size_t)c * D;
        double wm = 0, ww = 0, mm = 0;
        for (int64_t k = 0; k < D; k++) {
            wm += (double)w[k] * m[k];
            ww += (double)w[k] * w[k];
            mm += (double)m[k] * m[k];
        }
        if (ww == 0 || mm == 0) continue;
        double cs = wm / sqrt(ww * mm);
        cos_sum[b] += cs;
        cos_n[b]++;
        cos_all += cs;
        cos_nall++;
    }
    for (int b = 0; b < EVAL_N_BUCKETS; b++) {
        double n = (double)t->b_holdout[b];
        t->acc_mean[b] = n > 0 ? hit_m[b] / n : NAN;
        t->acc_weight[b] = (n > 0 && t->has_weights) ? hit_w[b] / n : NAN;
        t->cos_wm[b] = cos_n[b] ? cos_sum[b] / cos_n[b] : NAN;
    }
    t->acc_mean_all = all_n ? (double)all_m / all_n : NAN;
    t->acc_weight_all = (all_n && t->has_weights) ? (double)all_w / all_n : NAN;
    t->cos_wm_all = cos_nall ? cos_all / cos_nall : NAN;
done:
    free(pred);
    return rc;
}

/* ---- class-mean accumulator ----------------------------------------------------------------- */

int eval_class_accum_init(struct eval_class_accum *a, int64_t n_classes, int d,
                          struct dcqb_err *err)
{
    memset(a, 0, sizeof *a);
    if (n_classes < 1 || d < 1)
        return DCQB_FAIL(err, DCQB_EINVAL, "class means: bad dims C=%lld D=%d",
                         (long long)n_classes, d);
    a->sum = calloc((size_t)n_classes * (size_t)d + (size_t)n_classes, sizeof(double));
    if (!a->sum)
        return DCQB_FAIL(err, DCQB_ENOMEM, "class means: out of memory (%.1f MB)",
                         8e-6 * (double)n_classes * (d + 1));
    a->count = (int64_t *)(a->sum + (size_t)n_classes * (size_t)d);
    a->n_classes = n_classes;
    a->d = d;
    return DCQB_OK;
}

int eval_class_accum_add(struct eval_class_accum *a, const float *emb, const int32_t *labels,
                         int64_t n, struct dcqb_err *err)
{
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= a->n_classes)
            return DCQB_FAIL(err, DCQB_EINVAL, "class means: label %d of row %lld not in [0, %lld)",
                             (int)labels[i], (long long)i, (long long)a->n_classes);
    for (int64_t i = 0; i < n; i++) {
        double *s = a->sum + (size_t)labels[i] * a->d;
        const float *e = emb + (size_t)i * a->d;
        for (int k = 0; k < a->d; k++)
            s[k] += e[k];
        a->count[labels[i]]++;
    }
    return DCQB_OK;
}

int eval_class_accum_finish(const struct eval_class_accum *a, float *means, int32_t *sizes,
                            struct dcqb_err *err)
{
    for (int64_t c = 0; c < a->n_classes; c++) {
        const double *s = a->sum + (size_t)c * a->d;
        float *m = means + (size_t)c * a->d;
        const int64_t n = a->count[c];
        if (n > INT32_MAX)
            return DCQB_FAIL(err, DCQB_EINVAL, "class means: class %lld has %lld rows",
                             (long long)c, (long long)n);
        for (int k = 0; k < a->d; k++)
            m[k] = n ? (float)(s[k] / (double)n) : 0.0f;
        if (sizes) sizes[c] = (int32_t)n;
    }
    return DCQB_OK;
}

void eval_class_accum_free(struct eval_class_accum *a)
{
    if (!a) return;
    free(a->sum);
    memset(a, 0, sizeof *a);
}
