#!/usr/bin/env bash
# Builds the JavaScript components the tests run with ComponentizeJS from
# npm, pinned: the end-to-end tests' command
# (crates/tests/fixtures/js/app.js) into target/js-component/app.wasm, and
# lucet-serve's wasi:http handler (crates/tests/fixtures/js-http/handler.js)
# into target/js-component/http.wasm. The WIT packages are taken from the
# wasmtime-wasi and wasmtime-wasi-http crates the workspace builds against,
# so each component imports what its host provides. Idempotent: skips work
# already done.
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

# A crate's own WIT directory, located through cargo's metadata.
metadata=$(cargo metadata --locked --format-version 1)
crate_dir() {
    python3 -c '
import json, os, sys
packages = json.load(sys.stdin)["packages"]
print(os.path.dirname(next(p["manifest_path"] for p in packages if p["name"] == sys.argv[1])))' "$1" <<<"$metadata"
}
wasi_wit="$(crate_dir wasmtime-wasi)/src/p2/wit/deps"
http_wit="$(crate_dir wasmtime-wasi-http)/wit/deps"

# build SOURCE_DIR SCRIPT WORLD DEPS OUT [componentize-js flags...]: the
# world's WIT (SOURCE_DIR/wit/world.wit) with the DEPS packages beside it.
build() {
    local source=$1 script=$2 world=$3 deps=$4 wasm=$5
    shift 5
    if [[ -f "$wasm" && "$wasm" -nt "$source/$script" && "$wasm" -nt "$source/wit/world.wit" ]]; then
        return 0
    fi
    local wit="$out/wit-$world"
    rm -rf "$wit"
    mkdir -p "$wit/deps"
    cp "$source/wit/world.wit" "$wit/"
    cp "$deps"/*.wit "$wit/deps/"
    "$componentize" "$source/$script" --wit "$wit" --world-name "$world" "$@" \
        -o "$wasm.tmp" >/dev/null
    mv "$wasm.tmp" "$wasm"
}

# No wasi:http: a command imports only what wasi:cli provides.
build crates/tests/fixtures/js app.js app "$wasi_wit" "$out/app.wasm" \
    --disable http fetch-event
# Handles wasi:http itself (exports incomingHandler): no fetch event, and
# no outgoing `fetch`, which lucet-serve refuses anyway.
build crates/tests/fixtures/js-http handler.js http "$http_wit" "$out/http.wasm" \
    --disable http fetch-event
