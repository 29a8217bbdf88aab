/* report_latex.c - every table of REPORT.md again as a LaTeX booktabs tabular, for papers:
 * <dir of REPORT.md>/tables/table_NN_<heading>.tex. Made from the Markdown text itself, so the
 * two never disagree; the same report text gives the same files.
 */
#include "report_int.h"

#include "fsutil.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

/* The cell text [s, e) as LaTeX: specials escaped, Markdown bold and escapes dropped, the few
 * non-ASCII signs the report uses as math. */
static void tex_cell(struct sbuf *b, const char *s, const char *e)
{
    while (s < e && *s == ' ') s++;
    while (e > s && e[-1] == ' ') e--;
    for (const char *q = s; q < e; q++) {
        unsigned char c = (unsigned char)*q;
        if (c == '*' && q + 1 < e && q[1] == '*') {
            q++;
            continue;
        }
        if (c == '\\' && q + 1 < e && q[1] == '|') continue;
        if (!strncmp(q, "±", 2)) {
            sb_str(b, "$\\pm$");
            q += 1;
        } else if (!strncmp(q, "–", 3)) {
            sb_str(b, "--");
            q += 2;
        } else if (!strncmp(q, "″", 3)) {
            sb_str(b, "''");
            q += 2;
        } else if (!strncmp(q, "≥", 3)) {
            sb_str(b, "$\\geq$");
            q += 2;
        } else if (strchr("&%$#_{}", c) && c) {
            sb_printf(b, "\\%c", c);
        } else if (c == '\\') {
            sb_str(b, "\\textbackslash{}");
        } else if (c == '~' || c == '^') {
            sb_printf(b, "\\%c{}", c);
        } else {
            sb_add(b, q, 1);
        }
    }
}

/* Cells of a Markdown row "| a | b |" (the escaped "\|" is not a separator). */
static int row_cells(const char *s, const char *e, const char **cs, const char **ce, int max)
{
    int n = 0;
    if (s < e && *s == '|') s++;
    const char *start = s;
    for (const char *q = s; q < e; q++) {
        if (*q == '|' && q[-1] != '\\') {
            if (n < max) {
                cs[n] = start;
                ce[n] = q;
                n++;
            }
            start = q + 1;
        }
    }
    return n;
}

static void slug(char *out, size_t n, const char *s, const char *e)
{
    size_t k = 0;
    while (s < e && (*s == '#' || *s == ' ')) s++;
    for (; s < e && k + 1 < n && k < 40; s++) {
        char c = *s;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out[k++] = c;
        else if (c >= 'A' && c <= 'Z') out[k++] = (char)(c - 'A' + 'a');
        else if (k && out[k - 1] != '-') out[k++] = '-';
    }
    while (k && out[k - 1] == '-') k--;
    out[k] = '\0';
}

#define TEX_MAX_COLS 32

/* One table: header line h, rows from r to the first line not starting with '|'. */
static const char *one_table(struct sbuf *b, const char *h, const char *he, const char *end,
                             const char *head, const char *head_e)
{
    const char *cs[TEX_MAX_COLS], *ce[TEX_MAX_COLS];
    int nc = row_cells(h, he, cs, ce, TEX_MAX_COLS);
    sb_str(b, "% ");
    sb_add(b, head, (size_t)(head_e - head));
    sb_str(b, "\n% written by dcqbench report from REPORT.md; needs \\usepackage{booktabs}\n");
    sb_str(b, "\\begin{tabular}{l");
    for (int i = 1; i < nc; i++) sb_str(b, "r");
    sb_str(b, "}\n\\toprule\n");
    for (int i = 0; i < nc; i++) {
        if (i) sb_str(b, " & ");
        tex_cell(b, cs[i], ce[i]);
    }
    sb_str(b, " \\\\\n\\midrule\n");
    const char *q = he < end ? he + 1 : end;
    q = strchr(q, '\n') ? strchr(q, '\n') + 1 : end; /* the |---| line */
    while (q < end && *q == '|') {
        const char *e = memchr(q, '\n', (size_t)(end - q));
        if (!e) e = end;
        int k = row_cells(q, e, cs, ce, TEX_MAX_COLS);
        for (int i = 0; i < k; i++) {
            if (i) sb_str(b, " & ");
            tex_cell(b, cs[i], ce[i]);
        }
        sb_str(b, " \\\\\n");
        q = e < end ? e + 1 : end;
    }
    sb_str(b, "\\bottomrule\n\\end{tabular}\n");
    return q;
}

/* The files of an earlier report go first: the folder holds exactly this report's tables. */
static void remove_old(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "table_", 6) || l < 10 || strcmp(e->d_name + l - 4, ".tex")) continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

int report_latex(const char *out, const char *md, size_t n, struct dcqb_err *err)
{
    char dir[1100];
    const char *sl = strrchr(out, '/');
    if (sl) snprintf(dir, sizeof dir, "%.*s/tables", (int)(sl - out), out);
    else snprintf(dir, sizeof dir, "tables");
    int rc = fs_mkdir_p(dir, err), num = 0;
    if (!rc) remove_old(dir);
    const char *end = md + n, *q = md, *head = md, *head_e = md;
    while (!rc && q < end) {
        const char *e = memchr(q, '\n', (size_t)(end - q));
        if (!e) e = end;
        if (*q == '#') {
            head = q;
            head_e = e;
        }
        const char *nx = e < end ? e + 1 : end;
        if (*q == '|' && nx + 4 <= end && !strncmp(nx, "|---", 4)) {
            struct sbuf b = {0};
            const char *after = one_table(&b, q, e, end, head, head_e);
            char name[64], path[1300];
            slug(name, sizeof name, head, head_e);
            snprintf(path, sizeof path, "%s/table_%02d_%s.tex", dir, ++num, name);
            rc = b.oom ? DCQB_FAIL(err, DCQB_ENOMEM, "out of memory")
                       : file_write_atomic(path, b.p, b.n, err);
            sb_free(&b);
            q = after;
            continue;
        }
        q = nx;
    }
    return rc;
}
