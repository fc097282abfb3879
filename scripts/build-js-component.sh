#!/usr/bin/env bash
# Builds the JavaScript component the end-to-end tests run
# (crates/tests/fixtures/js/app.js) with ComponentizeJS from npm, pinned,
# into target/js-component/app.wasm. The WASI WIT packages are taken from
# the wasmtime-wasi crate the workspace builds against, so the component
# imports what the runner provides. Idempotent: skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."

COMPONENTIZE_JS_VERSION=0.23.0
out=target/js-component
toolchain=target/js-toolchain
mkdir -p "$out" "$toolchain"

componentize="$toolchain/node_modules/.bin/componentize-js"
if [[ ! -x "$componentize" ]]; then
    npm install --silent --no-audit --no-fund --prefix "$toolchain" \
        "@bytecodealliance/componentize-js@$COMPONENTIZE_JS_VERSION"
fi

# wasmtime-wasi's own WIT, located through cargo's metadata.
wasi_manifest=$(cargo metadata --locked --format-version 1 | python3 -c '
import json, sys
packages = json.load(sys.stdin)["packages"]
print(next(p["manifest_path"] for p in packages if p["name"] == "wasmtime-wasi"))')
wasi_wit="$(dirname "$wasi_manifest")/src/p2/wit/deps"

source=crates/tests/fixtures/js
if [[ -f "$out/app.wasm" && "$out/app.wasm" -nt "$source/app.js" && "$out/app.wasm" -nt "$source/wit/world.wit" ]]; then
    exit 0
fi
rm -rf "$out/wit"
mkdir -p "$out/wit/deps"
cp "$source/wit/world.wit" "$out/wit/"
cp "$wasi_wit"/*.wit "$out/wit/deps/"
# No wasi:http: a command imports only what wasi:cli provides.
"$componentize" "$source/app.js" --wit "$out/wit" --world-name app \
    --disable http fetch-event -o "$out/app.wasm.tmp" >/dev/null
mv "$out/app.wasm.tmp" "$out/app.wasm"
