#!/bin/sh
# test_bench_peer.sh - the PyTorch peer's bench.tsv join and speed-up arithmetic
# (harness/bench/torch_peer.py --self-test: a fixture bench.tsv with isa paths, revisions,
# failed and torn rows; no torch import, so it runs wherever python3 does), and that --help works
# without torch. Without python3 it prints one 'SKIP' line and no PASSED line.
set -u
PY=$(command -v python3 2>/dev/null) || { echo "SKIP: test_bench_peer: no python3"; exit 0; }
PEER=harness/bench/torch_peer.py
fail() { echo "test_bench_peer: FAIL: $*"; echo "[  FAILED  ] 1 test(s), listed below:"; exit 1; }
out=$("$PY" "$PEER" --self-test 2>&1) || fail "self-test: $out"
printf '%s\n' "$out" | grep -q '^torch_peer self-test: ok$' || fail "self-test said: $out"
"$PY" "$PEER" --help 2>&1 | grep -q -- '--bench-tsv' || fail "--help does not list --bench-tsv"
"$PY" "$PEER" --heads nosuch >/dev/null 2>&1 && fail "--heads nosuch was accepted"
echo "[  PASSED  ] 2 test(s)."
