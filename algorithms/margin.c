/* margin.c - CosFace / ArcFace / combined target-logit margins, value and exact slope
 * (docs/METHOD.md §3.1; straight-through variant as in insightface since commit 657ae30e).
 * The ArcFace slope d cos(theta+m)/d cos = cos m + sin m * cos / sin theta is unbounded at
 * |cos| = 1; sin theta is floored at 1e-6 so that an exactly clamped cosine gives a large,
 * finite gradient instead of inf (PyTorch's sqrt backward would give inf there).
 */
#include "margin.h"

#include <math.h>

#define SIN_FLOOR 1e-6

static const double PI = 3.14159265358979323846;

const char *margin_type_name(int type)
{
    switch (type) {
    case MARGIN_COSFACE: return "cosface";
    case MARGIN_ARCFACE: return "arcface";
    case MARGIN_COMBINED: return "combined";
    case MARGIN_NONE: return "none";
    default: return "unknown";
    }
}

void margin_cfg_set(struct margin_cfg *mc, int type, float s, float m)
{
    memset(mc, 0, sizeof *mc);
    mc->type = type;
    mc->s = s;
    mc->m1 = 1.0f;
    if (type == MARGIN_COSFACE) mc->m3 = m;
    if (type == MARGIN_ARCFACE) mc->m2 = m;
}

int margin_validate(const struct margin_cfg *mc, struct dcqb_err *err)
{
    if (mc->type < MARGIN_COSFACE || mc->type > MARGIN_NONE)
        return DCQB_FAIL(err, DCQB_EINVAL, "margin: unknown type %d", mc->type);
    if (!(mc->s > 0.0f) || !isfinite(mc->s))
        return DCQB_FAIL(err, DCQB_EINVAL, "margin: s = %g must be > 0", (double)mc->s);
    if (!isfinite(mc->m1) || mc->m1 < 1.0f)
        return DCQB_FAIL(err, DCQB_EINVAL, "margin: m1 = %g must be >= 1", (double)mc->m1);
    if (!isfinite(mc->m2) || mc->m2 < 0.0f || mc->m2 >= (float)PI)
        return DCQB_FAIL(err, DCQB_EINVAL, "margin: m2 = %g must be in [0, pi)", (double)mc->m2);
    if (!isfinite(mc->m3) || mc->m3 < 0.0f)
        return DCQB_FAIL(err, DCQB_EINVAL, "margin: m3 = %g must be >= 0", (double)mc->m3);
    return DCQB_OK;
}

/* Which formula applies: combined (1, m2, 0) is ArcFace, (1, 0, m3) CosFace. */
static int effective_type(const struct margin_cfg *mc)
{
    if (mc->type != MARGIN_COMBINED) return mc->type;
    if (mc->m1 == 1.0f && mc->m3 == 0.0f) return MARGIN_ARCFACE;
    if (mc->m1 == 1.0f && mc->m2 == 0.0f) return MARGIN_COSFACE;
    return MARGIN_COMBINED;
}

static double clamp1(double c) { return c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c); }

double margin_forward_d(const struct margin_cfg *mc, double c)
{
    double s = mc->s;
    c = clamp1(c);
    switch (effective_type(mc)) {
    case MARGIN_NONE: return s * c;
    case MARGIN_COSFACE: return s * (c - mc->m3);
    case MARGIN_ARCFACE: {
        double m = mc->m2;
        double sn = sqrt(fmax(0.0, 1.0 - c * c));
        double phi = c * cos(m) - sn * sin(m);
        if (mc->straight_through) return s * phi;
        if (mc->easy_margin) return s * (c > 0.0 ? phi : c);
        return s * (c > cos(PI - m) ? phi : c - sin(PI - m) * m);
    }
    default: return s * (cos(mc->m1 * acos(c) + mc->m2) - mc->m3);
    }
}

double margin_backward_d(const struct margin_cfg *mc, double c)
{
    double s = mc->s;
    c = clamp1(c);
    if (mc->straight_through) return s;
    switch (effective_type(mc)) {
    case MARGIN_NONE:
    case MARGIN_COSFACE: return s;
    case MARGIN_ARCFACE: {
        double m = mc->m2;
        double sn = fmax(SIN_FLOOR, sqrt(fmax(0.0, 1.0 - c * c)));
        double dphi = cos(m) + sin(m) * c / sn;
        if (mc->easy_margin) return s * (c > 0.0 ? dphi : 1.0);
        return s * (c > cos(PI - m) ? dphi : 1.0);
    }
    default: {
        /* d/dc cos(m1 acos c + m2) = sin(m1 theta + m2) m1 / sin theta */
        double th = acos(c);
        double sn = fmax(SIN_FLOOR, sin(th));
        return s * sin(mc->m1 * th + mc->m2) * mc->m1 / sn;
    }
    }
}
