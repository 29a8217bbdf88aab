/* margin.h - target-logit transforms of docs/METHOD.md §3.1: CosFace, ArcFace (classic
 * threshold guard, easy_margin), the combined (m1, m2, m3) form and "none".
 *
 *   z_y = s * g(cos_y);  margin_forward gives z_y, margin_backward gives d z_y / d cos_y.
 *
 * CosFace g = c - m3. ArcFace g = cos(theta + m2) if c > cos(pi - m2) (easy_margin: c > 0), else
 * c - m2 sin m2 (easy_margin: c). Combined g = cos(m1 theta + m2) - m3: (1, m2, 0) is ArcFace
 * with its guard, (1, 0, m3) CosFace, anything else the plain formula without a guard (arcface_torch
 * raises on those; we allow them for exploration). straight_through: insightface after 657ae30e
 * applies the margin under no_grad and without the guard, so the value is s cos(acos(c) + m2)
 * (combined: the plain formula) and d z / d cos = s, as if there were no margin.
 * Computed in double; float wrappers for the heads.
 */
#ifndef DCQB_MARGIN_H
#define DCQB_MARGIN_H

#include "dcqb.h"

enum margin_type { MARGIN_COSFACE = 0, MARGIN_ARCFACE, MARGIN_COMBINED, MARGIN_NONE };

/* Target logit z_y = s * (cos(m1 * theta_y + m2) - m3); others s * cos_j (docs/METHOD.md §3.1).
 * CosFace: (1, 0, m3); ArcFace: (1, m2, 0) with the threshold guard. */
struct margin_cfg {
    int type;              /* enum margin_type */
    float s;               /* scale */
    float m1, m2, m3;      /* combined-margin parameters; set from `m` for cosface/arcface */
    int straight_through;  /* ArcFace: insightface >= 657ae30e gradient (margin under no-grad) */
    int easy_margin;       /* ArcFace: guard at cos > 0 instead of cos > cos(pi - m) */
};

/* DCQB_EINVAL naming the field when s <= 0, a margin is negative or not finite, m1 < 1... */
int margin_validate(const struct margin_cfg *mc, struct dcqb_err *err);

double margin_forward_d(const struct margin_cfg *mc, double cos_y);
double margin_backward_d(const struct margin_cfg *mc, double cos_y);
/* z_y = s * g(cos_y) */
static inline float margin_forward(const struct margin_cfg *mc, float cos_y)
{
    return (float)margin_forward_d(mc, cos_y);
}
/* d z_y / d cos_y (includes s) */
static inline float margin_backward(const struct margin_cfg *mc, float cos_y)
{
    return (float)margin_backward_d(mc, cos_y);
}

/* Fill `mc` for a type with one margin value m (cosface: m3, arcface: m2, none: ignored). */
void margin_cfg_set(struct margin_cfg *mc, int type, float s, float m);

const char *margin_type_name(int type); /* "cosface", "arcface", "combined", "none" */

#endif
