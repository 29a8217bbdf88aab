#!/bin/sh
# deps.sh - find the system packages dcqbench needs and, as root, install the missing ones.
# Called by `make deps` (and so by make, make test, make reproduce). Quick when nothing is missing.
# `deps.sh peer`: only the PyTorch peer's package (python3-torch, for Debian's /usr/bin/python3),
# called by `make bench-peer` alone, never by make test.
set -u
missing=""
need() { # need <package> <check command...>
    pkg=$1; shift
    "$@" >/dev/null 2>&1 || missing="$missing $pkg"
}
have_pc() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$1"; }
if [ "${1:-}" = peer ]; then
    need python3-torch /usr/bin/python3 -c "import torch"
else
need pkg-config command -v pkg-config
need libopenblas-dev have_pc openblas
need libgsl-dev have_pc gsl
need zlib1g-dev have_pc zlib
need libcmocka-dev have_pc cmocka
need libinih-dev have_pc inih
need gnuplot-nox command -v gnuplot
need make command -v make
need gcc command -v cc
need binutils command -v objdump
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends $missing >&2 || {
        echo "deps: apt-get failed installing:$missing" >&2; exit 1; }
    exit 0
fi
echo "deps: missing system packages:$missing" >&2
echo "deps: run as root:  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
exit 1
