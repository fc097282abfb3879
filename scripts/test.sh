#!/usr/bin/env bash
# The whole test suite, as CI runs it: lints, unit and end-to-end tests, and
# the WASI conformance suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"

cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings

# The runner as it ships (on its own, without Cranelift; linked statically):
# every end-to-end test runs through that binary, so artifacts must load in
# the lean runtime.
scripts/build-runner.sh target/runtime-only/lucet-wasi

# The containerd shim ships without Cranelift too, built on its own; its
# tests run this build.
cargo build --locked -p containerd-shim-lucet
cp target/debug/containerd-shim-lucet-v1 target/runtime-only/containerd-shim-lucet-v1
grep -q "compiler: none" <<<"$(target/runtime-only/containerd-shim-lucet-v1 -v)"

# A runner built to require signatures refuses to start without a key. Built
# here, next to the runtime-only build, it shares that build's dependencies.
scripts/build-runner.sh --features require-signatures target/require-signatures/lucet-wasi
if refusal=$(env -u LUCET_SIGNATURE_PK target/require-signatures/lucet-wasi anything.so 2>&1); then
    echo "a require-signatures runner started without a key" >&2
    exit 1
fi
grep -q "only runs verified artifacts" <<<"$refusal" || {
    echo "a require-signatures runner refused without saying why: $refusal" >&2
    exit 1
}

cargo build --locked --workspace --bins
# lucet-wasi reaches registries (`oci://REF`) through lucet-oci beside it,
# as the image installs them.
cp target/debug/lucet-oci target/runtime-only/lucet-oci

# README's main job still works as written, run with the binaries built above.
demo_output=$(scripts/demo.sh --prebuilt target/debug/lucetc target/runtime-only/lucet-wasi)
grep -qx "Hello, world!" <<<"$demo_output"

# The container recipe's build and install steps, offline, with the binaries just built.
scripts/check-container-recipe.sh --prebuilt
# A large real component for the end-to-end tests: JavaScript made into a
# WASI 0.2 component with ComponentizeJS (npm).
scripts/build-js-component.sh
LUCET_WASI="$PWD/target/runtime-only/lucet-wasi" \
    CONTAINERD_SHIM_LUCET_V1="$PWD/target/runtime-only/containerd-shim-lucet-v1" \
    cargo test --locked --workspace

# The benchmark harnesses in smoke mode (seconds), so they never rot.
# Run as the workspace build made them: `cargo run -p lucet-bench` would
# resolve features for lucet-bench alone and build wasmtime once more.
target/debug/verify-throughput --smoke --explore
target/debug/suite --smoke \
    --lucetc target/debug/lucetc --lucet-wasi target/runtime-only/lucet-wasi \
    --shim target/runtime-only/containerd-shim-lucet-v1

# Fuzz targets: build them and replay the committed corpora (no fuzzing in CI).
fuzz/replay.sh

# Last, the WASI conformance suite twice: as the preview-1 modules it ships
# (72 of 72 must pass), then as WASI 0.2 components made from them with the
# official preview-1 command adapter, where four AssemblyScript tests hit
# limits of the adapter itself (listed, with why, in the runner) and the
# other 68 must pass. Each run ends "module path: N passed, N failed" or
# "component path: N passed, N failed, 4 adapter limits".
suites=(../shared/corpus/wasi-testsuite/tests/*/testsuite/wasm32-wasip1)
conformance() {
    target/debug/wasi-testsuite "$@" \
        --lucetc target/debug/lucetc \
        --lucet-wasi target/runtime-only/lucet-wasi \
        "${suites[@]}"
}
conformance --min-passed 72
conformance --component --min-passed 68
