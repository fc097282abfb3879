#!/usr/bin/env bash
# Folds what a campaign found (target/work/<target>/) into the committed
# corpus (corpus/<target>/), minimised with `cargo fuzz cmin`:
#
#   fuzz/cmin.sh                  # every target
#   fuzz/cmin.sh artifact         # one
#   SANITIZER=none fuzz/cmin.sh   # without ASan / RUSTC_BOOTSTRAP
#
# The generated, named inputs (seed-*, regression-*; see src/seeds.rs) are
# always kept and re-written; cmin picks which of the rest stay, named by
# their SHA-1 as libFuzzer names them.
set -euo pipefail
cd "$(dirname "$0")"

SANITIZER=${SANITIZER:-address}
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    targets=(signature public_key secret_key artifact metadata component)
fi

fuzz() {
    if [[ $SANITIZER == none ]]; then
        cargo fuzz "$@"
    else
        RUSTC_BOOTSTRAP=1 cargo fuzz "$@"
    fi
}

for target in "${targets[@]}"; do
    pool="target/cmin/$target"
    rm -rf "$pool"
    mkdir -p "$pool" "corpus/$target" "target/work/$target"
    # One cp per directory: the same SHA-1 name may be in both.
    for dir in "corpus/$target" "target/work/$target"; do
        find "$dir" -type f -exec cp -f -t "$pool" {} +
    done
    fuzz cmin --sanitizer "$SANITIZER" "$target" "$pool" >"target/cmin/$target.log" 2>&1
    # Named seeds are written back below; drop cmin's copies of them.
    for named in "corpus/$target"/seed-* "corpus/$target"/regression-*; do
        [[ -e $named ]] || continue
        rm -f "$pool/$(sha1sum "$named" | cut -d' ' -f1)"
    done
    find "corpus/$target" -type f ! -name 'seed-*' ! -name 'regression-*' -delete
    cp "$pool"/* "corpus/$target/" 2>/dev/null || true
    echo "$target: $(find "corpus/$target" -type f | wc -l) inputs, $(du -sh --apparent-size "corpus/$target" | cut -f1)"
done
cargo run --quiet --example write_seeds >/dev/null
