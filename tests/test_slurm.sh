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
need="munged slurmctld slurmd sbatch squeue scancel sinfo"
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
ids = 640
[head.dcq.t1]
profile = ms1m
ids = 640
ratio = 0.1, 0.5
mu = 0.9
EOF

[ -n "${SLURM_TEST_SWEEP:-}" ] && cp "$SLURM_TEST_SWEEP" "$T"/sweep.conf   # e.g. the whole smoke

t0=$(date +%s.%N)
"$BIN" sweep "$T"/sweep.conf --results "$T"/local --jobs 2 >"$T"/local.log 2>&1 ||
    fail "local sweep: $(tail -n 3 "$T"/local.log)"
"$BIN" report --profile smoke --results "$T"/local >>"$T"/local.log 2>&1 ||
    fail "local report: $(tail -n 3 "$T"/local.log)"
t1=$(date +%s.%N)
L=$T/local/reproduce_smoke/runs.tsv
S=$T/slurm/reproduce_smoke/runs.tsv
N=$(($(wc -l < "$L") - 1))

# submit; wait until none of the ids ($1, comma-separated) is queued or running
submit() {
    "$BIN" sweep "$T"/sweep.conf --slurm --results "$T"/slurm >"$T"/$1.log 2>&1 ||
        fail "sweep --slurm: $(cat "$T"/$1.log)"
    cat "$T"/$1.log
}
job_ids() { sed -n 's/^  -> [a-z]* job \([0-9]*\)$/\1/p' "$T"/$1.log | paste -sd, -; }
wait_jobs() {
    i=0
    while [ -n "$(squeue -h -j "$1" 2>/dev/null)" ]; do
        i=$((i + 1)); [ $i -gt "$TIMEOUT" ] && fail "jobs $1 still queued after $TIMEOUT s"
        sleep 1
    done
}

# 1. the whole sweep, but its last array task is cancelled (pending or running: either way its
#    run gets no row); the report job still runs (afterany)
submit submit
ids=$(job_ids submit)
[ -n "$ids" ] || fail "no job id in the submission's output"
array=${ids%%,*}
scancel "${array}_$((N - 1))" || fail "scancel ${array}_$((N - 1))"
squeue -j "$ids"
wait_jobs "$ids"
"$BIN" sweep "$T"/sweep.conf --status --results "$T"/slurm > "$T"/status.log
cat "$T"/status.log
grep -q ": $N runs: $((N - 1)) done, 0 running, 0 failed, 1 to-run" "$T"/status.log ||
    fail "--status after the cancelled task: $(tail -n 1 "$T"/status.log)"
[ -f "$T"/slurm/REPORT.md ] || fail "the report job wrote no REPORT.md"

# 2. the same command again: one task, for the cancelled shard alone
submit retry
grep -q "^sbatch .* --array=$((N - 1)) " "$T"/retry.log || fail "retry: not the one shard left"
wait_jobs "$(job_ids retry)"
t2=$(date +%s.%N)
echo "test_slurm: $N runs: local sweep + report $(awk "BEGIN { printf \"%.0f\", $t1 - $t0 }") s;" \
     "through Slurm, submit to last job ended, with the cancelled task's retry" \
     "$(awk "BEGIN { printf \"%.0f\", $t2 - $t1 }") s"
for f in "$T"/slurm/reproduce_smoke/slurm/*report*.out; do echo "--- $f"; tail -n 3 "$f"; done

# ---- runs.tsv: every column but the timings, rows by run_id; one row per run (none ran twice)
cols() {
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++)
                              keep[i] = $i !~ /^(wall_s|samples_per_s|peak_rss_mb|.*_time_share)$/ }
                { line = ""; for (i = 1; i <= NF; i++) if (keep[i]) line = line $i "\t"; print line }' \
        "$1" | { IFS= read -r h; echo "$h"; sort; }
}
[ -f "$S" ] || fail "no $S"
[ "$(wc -l < "$S")" -eq $((N + 1)) ] || fail "$S has $(($(wc -l < "$S") - 1)) rows, want $N"
cols "$L" > "$T"/l.tsv
cols "$S" > "$T"/s.tsv
cmp -s "$T"/l.tsv "$T"/s.tsv || fail "runs.tsv differs: $(diff "$T"/l.tsv "$T"/s.tsv | head -n 6)"
awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "digest") d = i }
            NR > 1 && ($d == "" || $d == "NA" || $5 != "ok") { bad = 1 } END { exit bad }' "$S" ||
    fail "a run is not ok or has no digest"

# ---- REPORT.md: written by the report job, equal but the time it was generated; the results
# folder's path and the samples/s column (a timing) are blanked
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

# ---- all done: the same command again submits no array, and runs.tsv gains nothing
"$BIN" sweep "$T"/sweep.conf --status --results "$T"/slurm | tail -n 1 |
    grep -q ": $N runs: $N done, 0 running, 0 failed, 0 to-run" || fail "--status is not all done"
submit again
grep -q 'array job' "$T"/again.log && fail "a third submission submitted an array: nothing is left"
wait_jobs "$(job_ids again)"
[ "$(wc -l < "$S")" -eq $((N + 1)) ] || fail "the third submission appended rows"

echo "[  PASSED  ] 1 test(s)."
