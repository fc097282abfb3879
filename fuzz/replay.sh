#!/usr/bin/env bash
# CI check for the fuzz targets: build every target without a sanitizer
# (stable toolchain, no RUSTC_BOOTSTRAP) and run each committed input of
# corpus/<target>/ once (-runs=0: no fuzzing). Takes seconds once built.
# Exits non-zero if a target fails to build or any input fails.
#
# Installs the pinned cargo-fuzz if it is missing. Builds into
# target/replay/ so that it leaves a developer's AddressSanitizer builds
# (target/<triple>/) alone.
set -euo pipefail
cd "$(dirname "$0")"

CARGO_FUZZ_VERSION=0.13.2
export PATH="$HOME/.cargo/bin:$PATH"

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

options=(--sanitizer none --target-dir target/replay)
cargo fuzz build "${options[@]}"

status=0
for target in $(cargo fuzz list); do
    corpus="corpus/$target"
    inputs=$(find "$corpus" -type f 2>/dev/null | wc -l)
    if [[ $inputs -eq 0 ]]; then
        echo "fuzz replay: $target: no corpus in fuzz/$corpus" >&2
        status=1
        continue
    fi
    log=$(mktemp)
    if cargo fuzz run "${options[@]}" "$target" "$corpus" -- -runs=0 >"$log" 2>&1; then
        echo "fuzz replay: $target: $inputs inputs ok"
    else
        cat "$log" >&2
        echo "fuzz replay: $target: FAILED (inputs in fuzz/$corpus)" >&2
        status=1
    fi
    rm -f "$log"
done
exit "$status"
