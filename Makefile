# dcqbench - build, test and reproduce. See README.md.
#
# Every public target first runs `make deps` (harness/deps.sh), which installs missing Debian
# packages as root or names them otherwise. Sources are globbed: a new head is one new .c file.

CC      ?= cc
# -ffp-contract=off: no silent FMA contraction, so numbers do not depend on the compiler's mood
# (docs/METHOD.md §7). No -ffast-math anywhere.
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Wshadow \
           -ffp-contract=off -pthread
# Recursive (=) so pkg-config runs after `deps` installed it, not when make reads this file.
OPENBLAS_CFLAGS = $(shell pkg-config --cflags openblas 2>/dev/null)
OPENBLAS_LIBS   = $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
# One -I per folder: a file includes "name.h" and the layering (docs/ARCHITECTURE.md) says which
# folder may include which.
HARNESS_DIRS := $(sort $(dir $(wildcard harness/*/*.c harness/*/*.h)))
CPPFLAGS += -Iinclude -Ialgorithms -Idatasets $(addprefix -I,$(HARNESS_DIRS)) -I$(BUILD) \
            $(OPENBLAS_CFLAGS)
# -lgsl but never -lgslcblas: with it first, cblas_sgemm silently binds to GSL's reference BLAS
# (4.8 instead of ~85 GFLOP/s here). tests/test_blas.c checks which BLAS answers.
LDLIBS  = -lgsl $(OPENBLAS_LIBS) -linih -lz -lm -lpthread

# alloc_count.c interposes malloc: it belongs to the programs that want counting (dcqbench's
# `bench`, the tests), never to the library. bench.o calls it, so every program that links
# bench.o links ALLOC_OBJ too.
LIB_SRC  := $(wildcard algorithms/*.c algorithms/heads/*.c datasets/*.c) \
            $(filter-out harness/cli/main.c harness/bench/alloc_count.c,$(wildcard harness/*/*.c))
# BUILD and BINDIR move so that `make check-san` builds beside, not over, the normal build.
BUILD    ?= build
BINDIR   ?= bin
DCQBENCH := $(BINDIR)/dcqbench
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
ALLOC_OBJ := $(BUILD)/harness/bench/alloc_count.o
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# Shell tests: tests/test_slurm.sh brings up a one-node Slurm cluster (root; SKIP otherwise).
TEST_SH  := $(wildcard tests/test_*.sh)
BENCH_SRC := $(wildcard tests/bench_*.c)
# One libFuzzer harness per reader (tests/fuzz/README.md); `make test` replays their corpora and
# regression inputs through the same harness built with the normal compiler.
FUZZ_NAMES := npy dsfile ckpt sweepfile ini runstsv benchtsv
FUZZ_REPLAY_BIN := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz_replay_%)
FUZZ_SECONDS ?= 60
FUZZ_ONLY ?= $(FUZZ_NAMES)
FUZZ_CFLAGS = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
              -fno-omit-frame-pointer

.PHONY: all deps test check-san fuzz fuzz-run bench bench-peer reproduce scale mf2 plots clean help
all: $(DCQBENCH)

help:
	@echo "make            build bin/dcqbench"
	@echo "make test       build and run every test (what CI runs)"
	@echo "make reproduce  run the reproduction sweeps, write results/REPORT.md and plots"
	@echo "                (PROFILE=smoke|default|paper; ENGINE=slurm submits it as Slurm jobs)"
	@echo "make bench      head cost benchmark (results/bench/)"
	@echo "make bench-peer the same head steps in PyTorch (python3-torch, CPU) beside ours:"
	@echo "                results/bench/bench_peer.tsv with the speed-up (PEER_C, PEER_D, PEER_THREADS)"
	@echo "make scale      the scale ladder, 5K-100K identities (hours: README \"Scale\")"
	@echo "make mf2        DCQ and random at MegaFace 2's 672K identities (README \"MF2 size\")"
	@echo "make plots      rebuild every figure from results/ alone"
	@echo "make check-san  tests under AddressSanitizer + UBSan"
	@echo "make fuzz       run each reader's libFuzzer harness FUZZ_SECONDS (60) seconds"
	@echo "                (clang; FUZZ_ONLY=\"npy ckpt\" picks harnesses)"
	@echo "make deps       install missing Debian packages (root) or name them"

deps:
	@sh harness/deps.sh

# $(BUILD)/version.h is rewritten only when its content changes (a new commit, other CFLAGS);
# only the files that include it depend on it (through -MMD), so a commit recompiles three files.
$(BUILD)/version.h: FORCE | deps
	@mkdir -p $(BUILD)
	@rev=$$(git describe --always --dirty 2>/dev/null || echo unknown); \
	 cc=$$($(CC) --version | head -n 1); \
	 printf '#define DCQB_GIT_REV "%s"\n#define DCQB_CC "%s"\n#define DCQB_CFLAGS "%s"\n' \
	   "$$rev" "$$cc" "$(strip $(CFLAGS))" > $(BUILD)/version.h.tmp; \
	 cmp -s $(BUILD)/version.h.tmp $(BUILD)/version.h || mv $(BUILD)/version.h.tmp $(BUILD)/version.h; \
	 rm -f $(BUILD)/version.h.tmp
FORCE:

$(BUILD)/%.o: %.c | deps $(BUILD)/version.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(XCFLAGS) -MMD -MP -c $< -o $@

# Per-file extra flags (never fast-math): -O3 vectorises the plain loops of the row and scale
# kernels on every ISA path (algorithms/isa.h; at -O2 GCC 12 vectorised some only for AVX-512).
# Same IEEE operations either way, so results do not change (tests/test_isa.c).
$(BUILD)/algorithms/ops.o $(BUILD)/algorithms/heads/full.o $(BUILD)/algorithms/cosw.o \
$(BUILD)/algorithms/cosxent.o $(BUILD)/algorithms/backbone.o: XCFLAGS = -O3

$(BUILD)/libdcqb.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Build-time check that every ISA variant of every hot kernel kept its packed arithmetic
# (harness/check_vec.sh reads the objects with objdump): a scalar fallback gives the right bits,
# only slower, so no test would see it.
VEC_OBJ := $(addprefix $(BUILD)/,algorithms/ops.o algorithms/cosw.o algorithms/cosxent.o \
                                 datasets/synth_kernels.o)
$(BUILD)/check-vec.ok: $(VEC_OBJ) harness/check_vec.sh
	@sh harness/check_vec.sh $(VEC_OBJ)
	@touch $@

# CHECK_VEC=0 for builds that are not meant to vectorise (-O1 sanitizer and fuzzing builds).
CHECK_VEC ?= 1
$(DCQBENCH): $(BUILD)/harness/cli/main.o $(ALLOC_OBJ) $(BUILD)/libdcqb.a \
             $(if $(filter 1,$(CHECK_VEC)),$(BUILD)/check-vec.ok)
	@mkdir -p $(BINDIR)
	$(CC) $(CFLAGS) -o $@ $(filter-out %.ok,$^) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(ALLOC_OBJ) $(BUILD)/libdcqb.a | deps
	@mkdir -p $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests -o $@ $< $(ALLOC_OBJ) $(BUILD)/libdcqb.a -lcmocka \
	    $(LDLIBS)

FUZZ_COMMON := tests/fuzz/fuzz_common.c tests/fuzz/fuzz.h
$(BUILD)/tests/fuzz_replay_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_replay.c $(FUZZ_COMMON) \
                              $(ALLOC_OBJ) $(BUILD)/libdcqb.a | deps
	@mkdir -p $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/fuzz -DFUZZ_NAME='"$*"' -o $@ $< tests/fuzz/fuzz_replay.c \
	    tests/fuzz/fuzz_common.c $(ALLOC_OBJ) $(BUILD)/libdcqb.a -lcmocka $(LDLIBS)

# One BLAS thread for tests: digests are defined per thread count (tests that need 2 set it).
# Tests that drive the CLI find it through $DCQBENCH.
test: $(DCQBENCH) $(TEST_BIN) $(FUZZ_REPLAY_BIN)
	@OPENBLAS_NUM_THREADS=1 DCQBENCH=$(DCQBENCH) sh tests/run.sh $(TEST_BIN) $(FUZZ_REPLAY_BIN) \
	    $(TEST_SH)

# Same tests under AddressSanitizer + UBSan, built into build-san/ so the normal build stays.
check-san:
	$(MAKE) BUILD=build-san BINDIR=build-san/bin CHECK_VEC=0 \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    test

# libFuzzer needs clang: the library is rebuilt into build-fuzz/ with coverage hooks
# (fuzzer-no-link) and sanitizers; each harness starts from its committed corpus and writes new
# inputs to build-fuzz/fuzz/corpus-<name>/, crashes to build-fuzz/fuzz/<name>-crash-*. A crash
# goes into tests/fuzz/regress/<name>/ once fixed, so `make test` replays it from then on.
fuzz:
	$(MAKE) BUILD=build-fuzz BINDIR=build-fuzz/bin CC=clang CHECK_VEC=0 \
	    CFLAGS="$(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link" fuzz-run

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_libfuzzer.c $(FUZZ_COMMON) \
                      $(ALLOC_OBJ) $(BUILD)/libdcqb.a | deps
	@mkdir -p $(BUILD)/fuzz
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< \
	    tests/fuzz/fuzz_libfuzzer.c tests/fuzz/fuzz_common.c $(ALLOC_OBJ) $(BUILD)/libdcqb.a \
	    $(LDLIBS)

fuzz-run: $(FUZZ_ONLY:%=$(BUILD)/fuzz/fuzz_%)
	@for n in $(FUZZ_ONLY); do \
	    mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	    OPENBLAS_NUM_THREADS=1 $(BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$n- \
	        $(BUILD)/fuzz/corpus-$$n tests/fuzz/corpus/$$n 2> $(BUILD)/fuzz/$$n.log; st=$$?; \
	    echo "fuzz $$n: exit $$st, $$(grep -E 'stat::number_of_executed_units|cov:' \
	        $(BUILD)/fuzz/$$n.log | tail -n 2 | tr '\n' ' ')"; \
	done

# The native ISA path over the whole grid, then the lower paths forced (algorithms/isa.h) at
# C = 1e5 in the same bench.tsv, so an AVX-512 machine also shows what an AVX2-only (AMD Zen) or
# a baseline node would see. ISA=avx2 (or sse2, avx512) measures the whole grid on that path.
# bench exits 1 when a configuration failed (recorded in bench.tsv): the lower paths still run,
# and make bench then exits 1; any other status stops at once.
ISA ?=
LOWER_ISAS = $(shell $(DCQBENCH) --version 2>/dev/null | sed -n 's/.*ISA path [a-z0-9]* (best \([a-z0-9]*\)).*/\1/p' | \
               sed -e 's/^avx512$$/avx2,sse2/' -e 's/^avx2$$/sse2/' -e 's/^sse2$$//')
bench: $(DCQBENCH)
ifeq ($(ISA),)
	@st=0; echo "$(DCQBENCH) bench"; $(DCQBENCH) bench || st=$$?; [ $$st -le 1 ] || exit $$st; \
	lower="$(LOWER_ISAS)"; if [ -n "$$lower" ]; then \
	    echo "$(DCQBENCH) bench --isa $$lower --C 100000 --big-C none"; \
	    $(DCQBENCH) bench --isa $$lower --C 100000 --big-C none || { s=$$?; \
	        [ $$s -le 1 ] || exit $$s; st=1; }; \
	fi; exit $$st
else
	$(DCQBENCH) bench --isa $(ISA)
endif

# The PyTorch reference peer (docs/METHOD.md section 6): our rows at the peer's shapes first (bench
# skips the ones already done at this revision), then the peer's, joined with ours. Debian's
# python3-torch lives in /usr/bin/python3's dist-packages, so that interpreter runs the peer.
# Only this target installs python3-torch, never make test.
PEER_C ?= 100000,1000000
PEER_D ?= 128,512
PEER_THREADS ?= 1,2
PEER_PYTHON ?= $(if $(wildcard /usr/bin/python3),/usr/bin/python3,python3)
bench-peer: $(DCQBENCH)
	@sh harness/deps.sh peer
	$(DCQBENCH) bench --C $(PEER_C) --big-C none --d $(PEER_D) --threads $(PEER_THREADS)
	$(PEER_PYTHON) harness/bench/torch_peer.py --C $(PEER_C) --d $(PEER_D) \
	    --threads $(PEER_THREADS) --out results/bench

# A failed run does not stop the job (the sweep exits 1 and the report lists it); bad input
# (exit 2) or an interrupt (130) does. Finished runs are skipped on a rerun.
# ENGINE=slurm submits instead (`dcqbench sweep --slurm`, README "On a cluster"): a job array of
# the sweep's shards, then a job that writes the same report and figures once every task ended;
# SBATCH="--partition=p ..." adds sbatch options. The same command again retries what failed.
PROFILE ?= default
ENGINE ?= local
reproduce: $(DCQBENCH)
ifeq ($(ENGINE),slurm)
	$(DCQBENCH) sweep sweeps/reproduce_$(PROFILE).conf --slurm $(if $(SBATCH),--sbatch="$(SBATCH)")
else ifeq ($(ENGINE),local)
	@$(DCQBENCH) sweep sweeps/reproduce_$(PROFILE).conf; st=$$?; [ $$st -le 1 ] || exit $$st
	$(DCQBENCH) report --profile $(PROFILE)
	@$(MAKE) --no-print-directory plots
else
	$(error ENGINE=$(ENGINE): use local or slurm)
endif

# Not part of any profile: the scale ladder (sweeps/scale.conf, measured ~5 h on 2 cores), its
# report and figures (results/figures/scale_*), and the MF2-size runs (sweeps/mf2_672k.conf,
# ~1.3 h on one core). Both resume when rerun.
scale: $(DCQBENCH)
	@$(DCQBENCH) sweep sweeps/scale.conf; st=$$?; [ $$st -le 1 ] || exit $$st
	$(DCQBENCH) report --sweep scale --out results/scale/REPORT.md
	sh plots/make_plots.sh scale

mf2: $(DCQBENCH)
	@$(DCQBENCH) sweep sweeps/mf2_672k.conf; st=$$?; [ $$st -le 1 ] || exit $$st

plots: $(DCQBENCH)
	sh plots/make_plots.sh

clean:
	rm -rf build build-san build-fuzz bin

-include $(LIB_OBJ:.o=.d) $(ALLOC_OBJ:.o=.d) $(BUILD)/harness/cli/main.d
