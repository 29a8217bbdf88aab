#!/bin/sh
# test_slurm.sh - `dcqbench sweep --slurm` on a real single-node Slurm cluster (munge, slurmctld,
# slurmd from Debian's packages), brought up in a temporary folder and torn down by this script.
# A small sweep of the smoke profile's kind (its [base], two heads, two seeds) runs once locally
# and once through sbatch; runs.tsv (configs, digests, metrics: not wall times) and REPORT.md
# (but its 'Generated:' line) must be equal. Then the same command again must submit no array
# task (nothing finished runs again).
#
# Needs root (daemons, apt-get). Without root or packages it prints one 'SKIP' line and exits 0
# without a PASSED line, so tests/run.sh counts it as skipped, not passed.
# Environment: DCQBENCH (bin/dcqbench), SLURM_TEST_TIMEOUT (seconds to wait for the jobs, 240).
set -u
BIN=${DCQBENCH:-bin/dcqbench}
TIMEOUT=${SLURM_TEST_TIMEOUT:-240}
skip() { echo "SKIP: test_slurm: $*"; exit 0; }
fail() {
    echo "test_slurm: FAIL: $*"
    for f in "$T"/slurmctld.log "$T"/slurmd.log "$T"/munge/log; do
        [ -f "$f" ] && { echo "--- tail of $f"; tail -n 15 "$f"; }
    done
    echo "[  FAILED  ] 1 test(s), listed below:"
    exit 1
}

[ "$(id -u)" = 0 ] || skip "needs root to start munged, slurmctld and slurmd"
need="munged slurmctld slurmd sbatch squeue scontrol"
missing=""
for c in $need; do command -v "$c" >/dev/null 2>&1 || missing="$missing $c"; done
if [ -n "$missing" ]; then
    command -v apt-get >/dev/null 2>&1 || skip "missing$missing and no apt-get"
    echo "test_slurm: installing munge slurmctld slurmd slurm-client (missing:$missing)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        munge slurmctld slurmd slurm-client >/dev/null 2>&1 ||
        skip "apt-get install munge slurmctld slurmd slurm-client failed (no mirror?)"
    for c in $need; do command -v "$c" >/dev/null 2>&1 || skip "$c still missing"; done
fi
id munge >/dev/null 2>&1 || skip "no 'munge' user (the munge package makes it)"
[ -x "$BIN" ] || { echo "test_slurm: $BIN not built"; echo "[  FAILED  ] 1 test(s)"; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

T=$(mktemp -d /tmp/dcqb-slurm.XXXXXX) || skip "mktemp failed"
chmod 755 "$T"   # munged (user munge) must reach its folder inside
PIDS=""
cleanup() {
    # daemons started here, by their pid files only; then the folder
    for f in "$T"/slurmd.pid "$T"/slurmctld.pid "$T"/munge/pid; do
        [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    sleep 1
    for f in "$T"/slurmd.pid "$T"/slurmctld.pid "$T"/munge/pid; do
        [ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    # job steps left by a failed test: slurmstepd and the tasks of this folder's sweeps
    for p in $(pgrep -f "slurmstepd|$T/" 2>/dev/null); do
        [ "$p" != $$ ] && grep -q "$T" /proc/"$p"/environ 2>/dev/null && kill -9 "$p" 2>/dev/null
    done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- munge: its own key, socket and files, run as user munge
mkdir -p /run/munge "$T"/munge
chown munge:munge /run/munge "$T"/munge
chmod 755 "$T"/munge   # munged wants its socket folder searchable by all
dd if=/dev/urandom of="$T"/munge/key bs=1024 count=1 2>/dev/null
chown munge:munge "$T"/munge/key
chmod 400 "$T"/munge/key
SOCK=$T/munge/sock
su -s /bin/sh munge -c "munged --key-file=$T/munge/key --socket=$SOCK --pid-file=$T/munge/pid \
    --log-file=$T/munge/log --seed-file=$T/munge/seed" || fail "munged did not start"

# ---- slurm.conf: one node (this host, all its CPUs), daemons as root, ports of our own
HOST=$(hostname -s)
CPUS=$(nproc)
PORT=$((20000 + $$ % 20000))
mkdir -p "$T"/state "$T"/spool
cat > "$T"/slurm.conf <<EOF
ClusterName=dcqbtest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$T/slurm.conf
slurmctld -f "$SLURM_CONF" -i || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"
i=0
until sinfo -h -o %T 2>/dev/null | grep -q idle; do
    i=$((i + 1)); [ $i -gt 60 ] && fail "node not idle after 30 s: $(sinfo 2>&1)"; sleep 0.5
done

# ---- the sweep: the smoke profile's [base], two heads, two seeds (6 runs)
cat > "$T"/sweep.conf <<'EOF'
[sweep]
name = reproduce_smoke
jobs = 2
[base]
seed = 1, 2
steps = 80
batch = 64
lr = 0.1
lr_schedule = cosine
warmup = 0.05
threads = 1
margin = cosface
s = 50
m = 0.3
report.sesoi = 0.5
report.delta = 1.0
eval.distractors = 2000
[head.full.t1]
profile = ms1m
ids = 300
[head.dcq.t1]
profile = ms1m
ids = 300
ratio = 0.1, 0.5
mu = 0.9
EOF

t0=$(date +%s.%N)
"$BIN" sweep "$T"/sweep.conf --results "$T"/local --jobs 2 >"$T"/local.log 2>&1 ||
    fail "local sweep: $(tail -n 3 "$T"/local.log)"
"$BIN" report --profile smoke --results "$T"/local >>"$T"/local.log 2>&1 ||
    fail "local report: $(tail -n 3 "$T"/local.log)"
t1=$(date +%s.%N)

"$BIN" sweep "$T"/sweep.conf --slurm --results "$T"/slurm >"$T"/submit.log 2>&1 ||
    fail "sweep --slurm: $(cat "$T"/submit.log)"
cat "$T"/submit.log
ids=$(sed -n 's/^  -> [a-z]* job \([0-9]*\)$/\1/p' "$T"/submit.log | paste -sd, -)
[ -n "$ids" ] || fail "no job id in the submission's output"
squeue -j "$ids"
i=0
while [ -n "$(squeue -h -j "$ids" 2>/dev/null)" ]; do
    i=$((i + 1)); [ $i -gt "$TIMEOUT" ] && fail "jobs $ids still queued after $TIMEOUT s"
    sleep 1
done
t2=$(date +%s.%N)
echo "test_slurm: local sweep + report $(awk "BEGIN { printf \"%.0f\", $t1 - $t0 }") s, through Slurm (submit to" \
     "last job ended) $(awk "BEGIN { printf \"%.0f\", $t2 - $t1 }") s"
for f in "$T"/slurm/reproduce_smoke/slurm/*.out; do echo "--- $f"; tail -n 4 "$f"; done

# ---- runs.tsv: every column but the timings, rows by run_id
cols() {
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++)
                              keep[i] = $i !~ /^(wall_s|samples_per_s|peak_rss_mb|.*_time_share)$/ }
                { line = ""; for (i = 1; i <= NF; i++) if (keep[i]) line = line $i "\t"; print line }' \
        "$1" | { IFS= read -r h; echo "$h"; sort; }
}
L=$T/local/reproduce_smoke/runs.tsv
S=$T/slurm/reproduce_smoke/runs.tsv
[ -f "$S" ] || fail "no $S"
[ "$(wc -l < "$S")" -eq 7 ] || fail "$S has $(($(wc -l < "$S") - 1)) rows, want 6"
cols "$L" > "$T"/l.tsv
cols "$S" > "$T"/s.tsv
cmp -s "$T"/l.tsv "$T"/s.tsv || fail "runs.tsv differs: $(diff "$T"/l.tsv "$T"/s.tsv | head -n 6)"
awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "digest") d = i }
            NR > 1 && ($d == "" || $d == "NA" || $5 != "ok") { bad = 1 } END { exit bad }' "$S" ||
    fail "a run is not ok or has no digest"

# ---- REPORT.md: written by the report job, equal but the time it was generated
[ -f "$T"/slurm/REPORT.md ] || fail "the report job wrote no REPORT.md"
# the results folder's path and the samples/s column (a timing) are blanked
md() {
    awk -v dir="$2" '/^Generated:/ { next }
        { while ((i = index($0, dir)) > 0) $0 = substr($0, 1, i - 1) "RESULTS" substr($0, i + length(dir)) }
        !/^\|/ { col = 0; print; next }
        { n = split($0, c, "|") }
        !col { for (i = 1; i <= n; i++) if (c[i] ~ /^ *samples\/s *$/) col = i }
        col { c[col] = " - "; $0 = c[1]; for (i = 2; i <= n; i++) $0 = $0 "|" c[i] }
        { print }' "$1"
}
md "$T"/local/REPORT.md "$T"/local > "$T"/l.md
md "$T"/slurm/REPORT.md "$T"/slurm > "$T"/s.md
cmp -s "$T"/l.md "$T"/s.md || fail "REPORT.md differs: $(diff "$T"/l.md "$T"/s.md | head -n 6)"

# ---- --status from the results folder; the same command again runs nothing
"$BIN" sweep "$T"/sweep.conf --status --results "$T"/slurm | tail -n 1 |
    grep -q ': 6 runs: 6 done, 0 running, 0 failed, 0 to-run' || fail "--status is not all done"
"$BIN" sweep "$T"/sweep.conf --slurm --results "$T"/slurm >"$T"/resubmit.log 2>&1 ||
    fail "resubmission: $(cat "$T"/resubmit.log)"
grep -q 'array job' "$T"/resubmit.log && fail "resubmission submitted an array: nothing is left"
grep -q ' 0 array task(s)' "$T"/resubmit.log || fail "resubmission: $(cat "$T"/resubmit.log)"
rid=$(sed -n 's/^  -> report job \([0-9]*\)$/\1/p' "$T"/resubmit.log)
i=0
while [ -n "$(squeue -h -j "$rid" 2>/dev/null)" ]; do
    i=$((i + 1)); [ $i -gt 60 ] && fail "report job $rid still queued"; sleep 1
done
[ "$(wc -l < "$S")" -eq 7 ] || fail "the resubmission appended rows: finished runs ran again"

echo "[  PASSED  ] 1 test(s)."
