#!/usr/bin/env bash
# Long fuzzing runs, outside CI: each target for RUNS executions (default
# 10 million), one after the other, with AddressSanitizer.
#
#   fuzz/campaign.sh                      # every target, 10M runs each
#   RUNS=1000000 fuzz/campaign.sh artifact signature
#   SANITIZER=none fuzz/campaign.sh       # no ASan (faster; no RUSTC_BOOTSTRAP)
#   FUZZ_ARGS=-use_value_profile=1 fuzz/campaign.sh artifact   # extra libFuzzer flags
#
# New inputs go to target/work/<target>/ (ignored by git); the committed
# corpus/<target>/ is read as seeds and left untouched. Crashes land in
# artifacts/<target>/. Logs: target/logs/<target>.log. Afterwards, fold
# what was found back into the committed corpus with cmin (see README.md).
#
# The stable toolchain has no AddressSanitizer flag; RUSTC_BOOTSTRAP=1 lets
# it take cargo-fuzz's -Zsanitizer=address.
set -euo pipefail
cd "$(dirname "$0")"

RUNS=${RUNS:-10000000}
SANITIZER=${SANITIZER:-address}
read -r -a extra <<<"${FUZZ_ARGS:-}"
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    targets=(signature public_key secret_key artifact metadata component)
fi

# Longest input worth trying per target: a little over what each parser
# reads (SignatureBox 9410 bytes, keys ~1.3 KiB, metadata 4077 bytes, an
# artifact block of a signature and a counter-signature plus footer and some
# image; blocks may reach 64 KiB, but only by repeating signature boxes).
max_len() {
    case $1 in
        signature) echo 10240 ;;
        public_key | secret_key) echo 2048 ;;
        metadata) echo 8192 ;;
        artifact) echo 20480 ;;
        *) echo 4096 ;;
    esac
}

fuzz() {
    if [[ $SANITIZER == none ]]; then
        cargo fuzz "$@"
    else
        RUSTC_BOOTSTRAP=1 cargo fuzz "$@"
    fi
}

fuzz build --sanitizer "$SANITIZER"
mkdir -p target/logs
status=0
for target in "${targets[@]}"; do
    mkdir -p "target/work/$target" "corpus/$target"
    log="target/logs/$target.log"
    start=$(date +%s)
    if fuzz run --sanitizer "$SANITIZER" "$target" "target/work/$target" "corpus/$target" -- \
        -runs="$RUNS" -max_len="$(max_len "$target")" -timeout=10 \
        -print_final_stats=1 "${extra[@]}" >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
    fi
    seconds=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "$target: $result, ${execs:-?} executions in ${seconds}s (log: fuzz/$log)"
done
exit "$status"
