#!/usr/bin/env python3
"""torch_peer.py - the PyTorch reference peer of `dcqbench bench` (docs/METHOD.md section 6).

Runs the head phase of our bench in PyTorch on the CPU: the training step (forward, backward,
update) of the four heads at the same shapes (B, C, d, ratio) and thread counts, on the same
kind of inputs (fixed random unit embeddings (B,d), keys for dcq, labels uniform over C, 8 label
batches in rotation), warm-up steps, then the median and the fastest of --reps timed steps. Each
configuration is appended as one row to DIR/bench_peer.tsv, joined with the matching row of our
DIR/bench.tsv (speedup = peer_ms / ours_ms), and printed.

The peer is written the way a competent PyTorch user writes these heads (insightface's
arcface_torch is the model for full and random): one matmul for the logits, F.normalize on the
class weights, F.cross_entropy, autograd for the backward, torch.optim.SGD or the same update on
gathered rows (index_select / index_copy_). Hyper-parameters are our head_cfg_defaults():
CosFace s = 64, m = 0.4, SGD momentum 0.9, weight decay 5e-4, lr 1e-3; float32.

--self-test checks the bench.tsv join and the speed-up arithmetic on a small fixture without
importing torch (tests/test_bench_peer.sh runs it in `make test`).
"""
import argparse
import csv
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HEADS = ("full", "random", "dcq", "sampled")
S_SCALE, MARGIN = 64.0, 0.4            # CosFace defaults of our heads (head_margin_params)
LR, MOMENTUM, WD = 1e-3, 0.9, 5e-4     # bench's lr, head_cfg_defaults() optimiser
NLAB = 8                               # label batches in rotation, as BENCH_NLAB
AVAIL_FRAC = 0.9                       # share of MemAvailable a plan may use, as ours
COLS = ("head C d B threads ratio K status peer_ms peer_min_ms reps ours_ms ours_min_ms "
        "speedup speedup_min torch_version blas omp_wait_policy cpu_model git_rev err_msg").split()


# ---- the join with our bench.tsv (no torch needed) ----------------------------------------------

def native_isa(cpuinfo_path="/proc/cpuinfo"):
    """The ISA path our kernels pick when none is forced (algorithms/isa.c's order)."""
    try:
        with open(cpuinfo_path) as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    if "avx512f" in flags:
                        return "avx512"
                    if "avx2" in flags:
                        return "avx2"
                    return "sse2"
    except OSError:
        pass
    return None


def read_ours(path):
    """bench.tsv's rows as dicts; [] when the file is missing. Torn lines are dropped."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    if not lines:
        return []
    hdr = lines[0].split("\t")
    return [dict(zip(hdr, ln.split("\t"))) for ln in lines[1:] if len(ln.split("\t")) == len(hdr)]


def match_ours(rows, head, C, d, B, threads, ratio, isa=None):
    """The last ok row of ours at the same head, C, d, B, threads and ratio; when rows carry an
    `isa` column only the native path's rows (isa == the given name) count. None if none."""
    found = None
    for r in rows:
        try:
            same = (r["head"] == head and int(r["C"]) == C and int(r["d"]) == d
                    and int(r["B"]) == B and int(r["threads"]) == threads
                    and math.isclose(float(r["ratio"]), ratio, rel_tol=1e-9)
                    and r["status"] == "ok")
        except (KeyError, ValueError):
            continue
        if same and "isa" in r and isa is not None and r["isa"] != isa:
            continue
        if same:
            found = r
    return found


def ratio_or_na(num, den):
    """num / den formatted, or NA when either is missing or not positive."""
    if num is None or den is None or not (num > 0) or not (den > 0):
        return "NA"
    return "%.3f" % (num / den)


def join_row(row, ours_rows, isa):
    """Fill ours_ms, ours_min_ms, speedup, speedup_min of a peer row from our rows."""
    m = match_ours(ours_rows, row["head"], int(row["C"]), int(row["d"]), int(row["B"]),
                   int(row["threads"]), float(row["ratio"]), isa)
    ours = float(m["head_ms"]) if m else None
    ours_min = float(m["head_min_ms"]) if m else None
    peer = float(row["peer_ms"]) if row["status"] == "ok" else None
    peer_min = float(row["peer_min_ms"]) if row["status"] == "ok" else None
    row["ours_ms"] = "%.4f" % ours if ours is not None else "NA"
    row["ours_min_ms"] = "%.4f" % ours_min if ours_min is not None else "NA"
    row["speedup"] = ratio_or_na(peer, ours)
    row["speedup_min"] = ratio_or_na(peer_min, ours_min)
    return row


def self_test():
    """The join and the arithmetic on a fixture; returns the number of failures."""
    hdr = "head C d B threads ratio K status head_ms head_min_ms isa git_rev".split()
    fixture = [
        ["full", "100000", "128", "256", "1", "0.1", "100000", "ok", "50", "40", "avx512", "a"],
        ["full", "100000", "128", "256", "1", "0.1", "100000", "ok", "20", "10", "avx2", "a"],
        ["full", "100000", "128", "256", "1", "0.1", "100000", "ok", "25", "20", "avx512", "b"],
        ["full", "100000", "128", "256", "2", "0.1", "100000", "ok", "99", "99", "avx512", "b"],
        ["dcq", "100000", "128", "256", "1", "0.1", "10000", "failed", "5", "5", "avx512", "b"],
        ["dcq", "100000", "128", "256", "1", "0.2", "20000", "ok", "7", "7", "avx512", "b"],
        ["random", "1000000", "512", "256", "1", "0.1", "100000", "ok", "8", "bad", "avx512"],
    ]
    fails = 0
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "bench.tsv")
        with open(p, "w") as f:
            f.write("\t".join(hdr) + "\n")
            for r in fixture:
                f.write("\t".join(r) + "\n")
        ours = read_ours(p)

        def peer(head, C, d, T, ratio, ms, mn, status="ok"):
            return {"head": head, "C": C, "d": d, "B": 256, "threads": T, "ratio": ratio,
                    "status": status, "peer_ms": ms, "peer_min_ms": mn}
        cases = [  # (peer row, isa, expected ours_ms, speedup, speedup_min)
            (peer("full", 100000, 128, 1, 0.1, 100, 60), "avx512", "25.0000", "4.000", "3.000"),
            (peer("full", 100000, 128, 1, 0.1, 100, 60), "avx2", "20.0000", "5.000", "6.000"),
            (peer("full", 100000, 128, 2, 0.1, 99, 99), "avx512", "99.0000", "1.000", "1.000"),
            (peer("dcq", 100000, 128, 1, 0.1, 10, 10), "avx512", "NA", "NA", "NA"),
            (peer("dcq", 100000, 128, 1, 0.2, 14, 7), "avx512", "7.0000", "2.000", "1.000"),
            (peer("full", 100000, 512, 1, 0.1, 10, 10), "avx512", "NA", "NA", "NA"),
            (peer("random", 1000000, 512, 1, 0.1, 8, 8), "avx512", "NA", "NA", "NA"),
            (peer("full", 100000, 128, 1, 0.1, -1, -1, "refused"), "avx512", "25.0000", "NA",
             "NA"),
        ]
        for k, (row, isa, want_ms, want_sp, want_spmin) in enumerate(cases):
            got = join_row(dict(row), ours, isa)
            if (got["ours_ms"], got["speedup"], got["speedup_min"]) != (want_ms, want_sp,
                                                                         want_spmin):
                print("self-test case %d: got ours_ms %s speedup %s speedup_min %s, want %s %s %s"
                      % (k, got["ours_ms"], got["speedup"], got["speedup_min"], want_ms, want_sp,
                         want_spmin), file=sys.stderr)
                fails += 1
        # without an isa column any path's row counts: the last ok one
        with open(p, "w") as f:
            f.write("head\tC\td\tB\tthreads\tratio\tstatus\thead_ms\thead_min_ms\n")
            f.write("sampled\t10\t4\t2\t1\t0.1\tok\t3\t2\nsampled\t10\t4\t2\t1\t0.1\tok\t4\t2\n")
        got = join_row(dict(peer("sampled", 10, 4, 1, 0.1, 8, 8), B=2), read_ours(p), "avx512")
        if (got["speedup"], got["speedup_min"]) != ("2.000", "4.000"):
            print("self-test: no-isa join gave %s %s, want 2.000 4.000"
                  % (got["speedup"], got["speedup_min"]), file=sys.stderr)
            fails += 1
        if read_ours(os.path.join(tmp, "missing.tsv")) != []:
            fails += 1
    return fails


# ---- machine and provenance ---------------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def git_rev():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        rev = subprocess.run(["git", "-C", here, "describe", "--always", "--dirty", "--abbrev=12"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        return rev or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def blas_summary(torch):
    """Which BLAS / MKL / oneDNN this torch uses, from torch.__config__.show(): BLAS_INFO (with
    "generic" resolved to the library behind libblas.so.3, Debian's alternatives), MKL and
    oneDNN (MKL-DNN) when built in, and the CPU capability ATen dispatches to."""
    cfg = torch.__config__.show()
    parts = []
    for tok in cfg.replace(",", " ").split():
        if tok.startswith("BLAS_INFO="):
            v = tok.split("=", 1)[1]
            if v == "generic":
                for lib in ("/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/libblas.so.3"):
                    if os.path.exists(lib):
                        v = "generic:" + os.path.basename(os.path.dirname(os.path.realpath(lib)))
                        break
            parts.append("blas=" + v)
    for line in cfg.splitlines():
        line = line.strip(" -")
        if line.startswith("Intel(R) Math Kernel Library"):
            parts.append("MKL")
        elif line.startswith("Intel(R) MKL-DNN") or line.startswith("Intel(R) oneAPI Deep"):
            parts.append("oneDNN " + line.split()[-4 if "Hash" in line else -1])
        elif line.startswith("CPU capability usage:"):
            parts.append("cpu=" + line.split(":", 1)[1].strip())
    return " ".join(parts).replace("\t", " ") if parts else "unknown"


# ---- the four peer steps ----------------------------------------------------------------------

def peer_K(head, C, B, ratio):
    """Classes (or queue slots) a step touches, as our heads count them."""
    K = max(1, int(ratio * C))
    if head == "full":
        return C
    return min(K, C)


def plan_bytes(head, C, d, B, ratio):
    """Peak float32 bytes of the peer's tensors, roughly: refuse what cannot fit."""
    K = peer_K(head, C, B, ratio)
    f = 4
    if head == "full":   # W, momentum, W's grad, normalised W + its grad, logits x 3
        return f * (5 * C * d + 3 * B * C)
    if head == "dcq":    # queue, logits x 3
        return f * (K * d + 3 * B * K)
    # random, sampled: W, momentum, gathered rows x 4, logits x 3, perm/rand (C)
    return f * (2 * C * d + 4 * (K + B) * d + 3 * B * (K + B) + 2 * C)


class Peer:
    """One head's state and step. step(y) runs forward, backward and the update."""

    def __init__(self, torch, head, C, d, B, ratio, seed):
        self.t, self.head, self.C, self.d, self.B = torch, head, C, d, B
        self.F = torch.nn.functional
        g = torch.Generator().manual_seed(seed)
        self.g = g
        self.emb = self.F.normalize(torch.randn(B, d, generator=g), dim=1)
        self.K = peer_K(head, C, B, ratio)
        if head in ("full", "random", "sampled"):
            # W ~ N(0, 0.01^2) as head_cfg_defaults' init_std; momentum starts at zero
            self.W = torch.randn(C, d, generator=g) * 0.01
            if head == "full":
                self.W.requires_grad_(True)
                self.opt = torch.optim.SGD([self.W], lr=LR, momentum=MOMENTUM, weight_decay=WD)
            else:
                self.V = torch.zeros(C, d)
        if head == "dcq":
            self.keys = self.F.normalize(torch.randn(B, d, generator=g), dim=1)
            self.Q = self.F.normalize(torch.randn(self.K, d, generator=g), dim=1)
            self.Qlab = torch.full((self.K,), -1, dtype=torch.long)
            self.ptr = 0
        if head == "sampled":
            # uniform proposal (our sampler default): S distinct classes need, in expectation,
            # T = C (H_C - H_{C-S}) draws; Q(c) = -expm1(T log1p(-1/C)) for every class
            S = self.K
            T = C * (harmonic(C) - harmonic(C - S)) if S < C else float(S)
            self.logq = float(-math.expm1(T * math.log1p(-1.0 / C))) if T != S else S / C
            self.logq = math.log(self.logq)

    def step(self, y):
        return getattr(self, "step_" + self.head)(y)

    def _margin_logits(self, e, wrows, tgt):
        """s (cos - m on the target): one matmul against the normalised rows, then the margin
        and the scale in place (as insightface's CombinedMarginLoss): no second (B,K) tensor."""
        cos = e @ self.F.normalize(wrows, dim=1).t()
        cos[self.t.arange(e.shape[0]), tgt] -= MARGIN
        return cos.mul_(S_SCALE)

    def step_full(self, y):
        # CosFace over all C classes, autograd into e and W, torch.optim.SGD on W
        e = self.emb.clone().requires_grad_(True)
        self.opt.zero_grad(set_to_none=True)
        loss = self.F.cross_entropy(self._margin_logits(e, self.W, y), y)
        loss.backward()
        self.opt.step()
        return e.grad

    def _sgd_rows(self, index, grad):
        """torch.optim.SGD's update on the gathered rows, scattered back with their momentum."""
        t = self.t
        with t.no_grad():
            w = self.W.index_select(0, index)
            v = self.V.index_select(0, index)
            gr = grad.add(w, alpha=WD)
            v.mul_(MOMENTUM).add_(gr)
            w.add_(v, alpha=-LR)
            self.W.index_copy_(0, index, w)
            self.V.index_copy_(0, index, v)

    def step_random(self, y):
        # Partial FC (insightface partial_fc_v2.sample): the batch's unique positives plus
        # uniform negatives up to K, by a random score with positives forced to the top, topk
        t = self.t
        with t.no_grad():
            pos = t.unique(y, sorted=True)
            if self.K > pos.numel():
                score = t.rand(self.C, generator=self.g)
                score[pos] = 2.0
                index = t.topk(score, k=self.K)[1].sort()[0]
            else:
                index = pos
            tgt = t.searchsorted(index, y)
            ws = self.W.index_select(0, index).requires_grad_(True)
        e = self.emb.clone().requires_grad_(True)
        loss = self.F.cross_entropy(self._margin_logits(e, ws, tgt), tgt)
        loss.backward()
        self._sgd_rows(index, ws.grad)
        return e.grad

    def step_dcq(self, y):
        # logits of the batch against the queue (own-label slots masked), positive logit from
        # the row's own key with the margin, CE on column 0, backward into the embeddings only;
        # then the batch's keys go into the ring
        t = self.t
        e = self.emb.clone().requires_grad_(True)
        neg = e @ self.Q.t()
        neg = neg.masked_fill(self.Qlab.unsqueeze(0) == y.unsqueeze(1), float("-inf"))
        pos = (e * self.keys).sum(1, keepdim=True) - MARGIN
        logits = S_SCALE * t.cat([pos, neg], dim=1)
        loss = self.F.cross_entropy(logits, t.zeros(self.B, dtype=t.long))
        loss.backward()
        with t.no_grad():
            idx = (self.ptr + t.arange(self.B)) % self.K
            self.Q.index_copy_(0, idx, self.keys)
            self.Qlab.index_copy_(0, idx, y)
            self.ptr = (self.ptr + self.B) % self.K
        return e.grad

    def step_sampled(self, y):
        # sampled softmax (TF sampled_softmax_loss): S distinct uniform classes, logits minus
        # log Q, the true column (with the margin) first, accidental hits masked, backward into
        # the embeddings and the touched rows, SGD on their union
        t = self.t
        with t.no_grad():
            samp = t.randperm(self.C, generator=self.g)[: self.K]
            ws = self.W.index_select(0, samp).requires_grad_(True)
            wy = self.W.index_select(0, y).requires_grad_(True)
        e = self.emb.clone().requires_grad_(True)
        true = S_SCALE * ((e * self.F.normalize(wy, dim=1)).sum(1, keepdim=True) - MARGIN)
        smp = S_SCALE * (e @ self.F.normalize(ws, dim=1).t())
        smp = smp.masked_fill(samp.unsqueeze(0) == y.unsqueeze(1), float("-inf"))
        logits = t.cat([true, smp], dim=1) - self.logq
        loss = self.F.cross_entropy(logits, t.zeros(self.B, dtype=t.long))
        loss.backward()
        with t.no_grad():
            rows = t.cat([samp, y])
            index, inv = t.unique(rows, return_inverse=True)
            grad = t.zeros(index.numel(), self.d).index_add_(0, inv, t.cat([ws.grad, wy.grad]))
        self._sgd_rows(index, grad)
        return e.grad


def harmonic(n):
    """Harmonic number H_n (n >= 0), exact below 1e4, asymptotic above."""
    if n < 10000:
        return math.fsum(1.0 / k for k in range(1, int(n) + 1))
    return math.log(n) + 0.5772156649015329 + 1.0 / (2 * n) - 1.0 / (12 * n * n)


def time_config(torch, head, C, d, B, T, ratio, reps, warm, seed):
    """(median ms, fastest ms, K) of `reps` timed steps after `warm` warm-up steps."""
    torch.set_num_threads(T)
    p = Peer(torch, head, C, d, B, ratio, seed)
    g = torch.Generator().manual_seed(seed * 7 + 5)
    labs = [torch.randint(C, (B,), generator=g) for _ in range(NLAB)]
    tw = []
    for r in range(-warm, reps):
        y = labs[(r + warm) % NLAB]
        t0 = time.perf_counter()
        p.step(y)
        t1 = time.perf_counter()
        if r >= 0:
            tw.append(t1 - t0)
    return 1e3 * statistics.median(tw), 1e3 * min(tw), p.K


# ---- main ---------------------------------------------------------------------------------------

def int_list(s):
    return [int(float(x)) for x in s.split(",") if x]


def parse(argv):
    ap = argparse.ArgumentParser(
        description="PyTorch CPU reference peer of `dcqbench bench`'s head phase: the four "
        "heads' training step at the same shapes and threads; rows appended to "
        "DIR/bench_peer.tsv with ours and the speed-up (peer_ms / ours_ms) from DIR/bench.tsv.")
    ap.add_argument("--heads", default=",".join(HEADS), help="comma list (default: all four)")
    ap.add_argument("--C", default="100000,1000000", help="class counts (default 1e5,1e6)")
    ap.add_argument("--d", default="128,512", help="embedding widths (default 128,512)")
    ap.add_argument("--B", type=int, default=256, help="batch (default 256)")
    ap.add_argument("--ratio", type=float, default=0.1, help="partial heads' fraction (0.1)")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--reps", type=int, default=5, help="timed steps (default 5)")
    ap.add_argument("--warmup", type=int, default=2, help="warm-up steps (default 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mem-limit-mb", type=float, default=0,
                    help="refuse plans above this (0: 0.9 x MemAvailable)")
    ap.add_argument("--out", default="results/bench", help="output folder (results/bench)")
    ap.add_argument("--bench-tsv", default=None, help="our rows (default OUT/bench.tsv)")
    ap.add_argument("--self-test", action="store_true",
                    help="check the bench.tsv join and the speed-up arithmetic (no torch)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # run_child's child
    a = ap.parse_args(argv)
    if a.self_test or a.one:
        return a
    a.heads = [h for h in a.heads.split(",") if h]
    for h in a.heads:
        if h not in HEADS:
            ap.error("--heads: unknown head '%s' (expected %s)" % (h, ", ".join(HEADS)))
    try:
        a.C, a.d, a.threads = int_list(a.C), int_list(a.d), int_list(a.threads)
    except ValueError as ex:
        ap.error("bad number in a list: %s" % ex)
    if not (0 < a.ratio <= 1) or a.B < 1 or a.reps < 1 or a.warmup < 0:
        ap.error("need 0 < --ratio <= 1, --B >= 1, --reps >= 1, --warmup >= 0")
    if min(a.C + a.d + a.threads) < 1:
        ap.error("--C, --d and --threads must be >= 1")
    if a.bench_tsv is None:
        a.bench_tsv = os.path.join(a.out, "bench.tsv")
    return a


def run_child(row, a):
    """One configuration in a fresh interpreter, like ours in a fresh child: its memory is its
    own, an OOM kill is a failed row, and OpenBLAS (torch's BLAS on Debian is the system
    libblas.so.3, which is OpenBLAS when libopenblas is installed) reads its thread count from
    the environment at load time, so OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = T there.
    OMP_WAIT_POLICY is PASSIVE unless the caller set it: with the cores shared (other processes,
    or OpenBLAS's own threads beside torch's OpenMP ones) spinning OpenMP workers made the
    2-thread peer 2-10x slower than its 1-thread step here, which measures the machine's load,
    not PyTorch; on a quiet machine ACTIVE can be a little faster (set it to see)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(row["threads"]),
               OMP_NUM_THREADS=str(row["threads"]))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    row["omp_wait_policy"] = env["OMP_WAIT_POLICY"]
    one = "%s,%d,%d,%d" % (row["head"], row["C"], row["d"], row["threads"])
    cmd = [sys.executable, os.path.abspath(__file__), "--one", one, "--B", str(a.B),
           "--ratio", repr(a.ratio), "--reps", str(a.reps), "--warmup", str(a.warmup),
           "--seed", str(a.seed)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    last = p.stdout.strip().splitlines()[-1:] if p.stdout.strip() else []
    if p.returncode == 0 and last and last[0].startswith("peer\t"):
        _, ms, mn, K = last[0].split("\t")
        row.update(peer_ms=ms, peer_min_ms=mn, K=K)
    else:
        row["status"] = "failed"
        msg = (p.stderr.strip().splitlines() or ["exit status %d" % p.returncode])[-1]
        row["err_msg"] = msg.replace("\t", " ")[:200]


def run_one(a):
    """--one head,C,d,T: time one configuration, print 'peer<TAB>ms<TAB>min_ms<TAB>K'."""
    import torch
    head, C, d, T = a.one.split(",")
    torch.set_num_interop_threads(1)
    ms, mn, K = time_config(torch, head, int(C), int(d), a.B, int(T), a.ratio, a.reps,
                            a.warmup, a.seed)
    print("peer\t%.4f\t%.4f\t%d" % (ms, mn, K))
    return 0


def main(argv):
    a = parse(argv)
    if a.one:
        return run_one(a)
    if a.self_test:
        fails = self_test()
        print("torch_peer self-test: %s" % ("ok" if fails == 0 else "%d failed" % fails))
        return 1 if fails else 0
    try:
        import torch  # inside main: --help and --self-test work without it
    except ImportError:
        print("torch_peer: python3 cannot import torch: install Debian's python3-torch "
              "(make bench-peer does, as root)", file=sys.stderr)
        return 1
    os.makedirs(a.out, exist_ok=True)
    out = os.path.join(a.out, "bench_peer.tsv")
    new = not os.path.exists(out) or os.path.getsize(out) == 0
    if not new:
        with open(out) as f:
            if f.readline().rstrip("\n").split("\t") != COLS:
                print("torch_peer: %s: line 1: header differs from this version's columns "
                      "(move the file away to start a new one)" % out, file=sys.stderr)
                return 1
    fixed = {"torch_version": torch.__version__, "blas": blas_summary(torch),
             "cpu_model": cpu_model(), "git_rev": git_rev()}
    isa = native_isa()
    avail = a.mem_limit_mb * 1e6 if a.mem_limit_mb > 0 else AVAIL_FRAC * (mem_available() or 0)
    print("\t".join(["head", "C", "d", "T", "status", "peer_ms", "peer_min", "ours_ms",
                     "ours_min", "speedup", "sp_min"]))
    with open(out, "a", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        if new:
            w.writerow(COLS)
            f.flush()
        for C in a.C:
            for d in a.d:
                for head in a.heads:
                    for T in a.threads:
                        row = {"head": head, "C": C, "d": d, "B": a.B, "threads": T,
                               "ratio": "%g" % a.ratio, "K": peer_K(head, C, a.B, a.ratio),
                               "status": "ok", "peer_ms": -1, "peer_min_ms": -1,
                               "reps": a.reps, "err_msg": "-", "omp_wait_policy": "-"}
                        need = plan_bytes(head, C, d, a.B, a.ratio)
                        if avail and need > avail:
                            row["status"] = "refused"
                            row["err_msg"] = "plan %.2f GB > %.2f GB" % (need / 1e9, avail / 1e9)
                        else:
                            run_child(row, a)
                        row.update(fixed)
                        join_row(row, read_ours(a.bench_tsv), isa)
                        w.writerow([row[c] for c in COLS])
                        f.flush()
                        print("\t".join(str(row[c]) for c in (
                            "head", "C", "d", "threads", "status", "peer_ms", "peer_min_ms",
                            "ours_ms", "ours_min_ms", "speedup", "speedup_min")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
