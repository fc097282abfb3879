#!/usr/bin/env bash
# The main job: the signed hello-world pipeline on the bundled example.
# examples/hello/hello.wat was published with a Minisign signature
# (hello.wat.minisig) by the holder of examples/hello/publisher.pub.
set -euo pipefail
cd "$(dirname "$0")/.."

# Two builds, not one: cargo unifies features across the packages of one
# build, and built together with lucetc the runner would carry Cranelift.
# scripts/build-runner.sh builds it on its own, as it ships (`compiler:
# none`). `--prebuilt LUCETC LUCET_WASI` runs the pipeline with binaries
# already built (the test run builds both, and a third build of lucetc alone
# would only cost it minutes).
lucetc=target/debug/lucetc
lucet_wasi=target/runtime-only/lucet-wasi
if [[ ${1:-} == --prebuilt && $# == 3 ]]; then
    lucetc=$2
    lucet_wasi=$3
elif [[ $# != 0 ]]; then
    echo "usage: scripts/demo.sh [--prebuilt LUCETC LUCET_WASI]" >&2
    exit 2
else
    cargo build --locked --bin lucetc -p lucetc
    scripts/build-runner.sh "$lucet_wasi"
fi
if ! grep -q "compiler: none" <<<"$("$lucet_wasi" --version)"; then
    echo "$lucet_wasi carries a compiler: build it on its own (scripts/build-runner.sh)" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { printf '\n==> %s\n' "$*"; }

step "A key pair for compiled code (raw: = no password, as automation uses)"
"$lucetc" --signature-keygen --signature-sk "raw:$work/lucet.key" --signature-pk "$work/lucet.pub"

step "Compile hello.wat only if the publisher's signature verifies; sign the artifact"
"$lucetc" examples/hello/hello.wat \
    --signature-pk examples/hello/publisher.pub \
    --signature-sk "raw:$work/lucet.key" \
    -o "$work/hello.so"

step "Run it only if its embedded signature verifies"
"$lucet_wasi" --signature-pk "$work/lucet.pub" "$work/hello.so"

step "A single flipped byte, and the runner refuses it"
cp "$work/hello.so" "$work/tampered.so"
printf '\x01' | dd of="$work/tampered.so" bs=1 seek=4096 conv=notrunc status=none
if "$lucet_wasi" --signature-pk "$work/lucet.pub" "$work/tampered.so"; then
    echo "tampered artifact ran: this is a bug" >&2
    exit 1
fi
echo "(refused, as it must be)"
