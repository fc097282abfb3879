#!/usr/bin/env bash
# Builds the runner, lucet-wasi, as it ships, and copies it to DEST. The one
# recipe for it: the Dockerfile, README's main job, the tests and the
# benchmarks all build it here.
#
# - On its own. Cargo unifies features across the packages of one build:
#   built together with lucetc (which turns on lucet-runtime's `compiler`
#   feature), the runner would link the Cranelift compiler as well. The copy
#   must say `compiler: none`, and link no registry client, or this script
#   fails.
# - Linked statically, as a position-independent executable (static-pie:
#   still loaded at a random address): no dynamic loader and no shared
#   libraries to map and resolve, which is a fifth of a hello world's
#   start-up (BENCHMARKS.md, P5). Not at a fixed address, though that would
#   save relocating itself at every start (a sixth of a hello world): a
#   runner of code from the network keeps address randomisation. Only the
#   runner's own crate is passed the flag (`cargo rustc`): given to every
#   crate through RUSTFLAGS, it would break the build's proc-macros.
#
# usage: scripts/build-runner.sh [--release] [--features FEATURES] DEST
#   --release   the release profile (default: debug)
#   --features  lucet-wasi's features, e.g. require-signatures
set -euo pipefail

usage() {
    echo "usage: scripts/build-runner.sh [--release] [--features FEATURES] DEST" >&2
    exit 2
}
cargo_args=()
while [[ $# -gt 1 ]]; do
    case "$1" in
        --release) cargo_args+=(--release); shift ;;
        --features) [[ $# -gt 2 ]] || usage; cargo_args+=(--features "$2"); shift 2 ;;
        *) usage ;;
    esac
done
[[ $# -eq 1 && $1 != -* ]] || usage
# DEST is the caller's: relative to where the script was run from, not to
# the source tree it builds in.
case $1 in
    /*) dest=$1 ;;
    *) dest=$PWD/$1 ;;
esac
cd "$(dirname "$0")/.."

# Cargo says where it put the binary (CARGO_TARGET_DIR or a configured
# target-dir move it); its diagnostics still go to stderr as text.
built=$(cargo rustc --locked --message-format=json-render-diagnostics "${cargo_args[@]}" \
    -p lucet-wasi --bin lucet-wasi -- -C target-feature=+crt-static |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
if [[ -z $built ]]; then
    echo "build-runner: cargo did not report lucet-wasi's executable" >&2
    exit 1
fi
mkdir -p "$(dirname "$dest")"
cp "$built" "$dest"
if ! grep -q "compiler: none" <<<"$("$dest" --version)"; then
    echo "build-runner: $dest carries a compiler: was lucet-runtime's compiler feature turned on for lucet-wasi?" >&2
    exit 1
fi
# Nor the registry client: lucet-wasi fetches `oci://` through lucet-oci,
# since everything it links is relocated at every start (BENCHMARKS.md, P5).
if nm -C "$dest" | grep -q 'oci_client::client::'; then
    echo "build-runner: $dest links the registry client: fetch oci:// through lucet_registry::open_oci_with_fetcher" >&2
    exit 1
fi
