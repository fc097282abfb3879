#!/usr/bin/env bash
# Performs the Dockerfile's recipe without a container engine, then checks
# what it installed:
#
# 1. the builder's builds (scripts/build-runner.sh, then the `cargo build`
#    commands read from the Dockerfile), run as written there but in the
#    debug profile (quicker; the release profile changes optimisation, not
#    what is built), in the project's own target directory;
# 2. scripts/stage-image.sh, the very install step of the image, into a
#    scratch prefix laid out like the image ($PREFIX/usr/local/bin,
#    $PREFIX/usr/local/share/man/man1, .../bash-completion/completions,
#    .../zsh/site-functions, .../fish/vendor_completions.d);
# 3. the installed tools alone on PATH: --version, rsign --version, the man
#    pages, the completions, a signed hello-world through them, and
#    lucet-serve refusing what it must not serve.
#
# usage: scripts/check-container-recipe.sh [--prebuilt]
#   --prebuilt  skip step 1 and reuse what scripts/test.sh built:
#               target/runtime-only/lucet-wasi (built on its own) and
#               target/debug/{lucetc,lucet-objdump,lucet-oci,lucet-dist}. Quick, for CI.
#               scripts/test.sh builds lucet-serve only with the workspace,
#               which links the compiler into it, so the Dockerfile's own
#               lucet-serve build still runs (debug profile, incremental).
#
# Not checked here: the base images, apt-get inside them (the image's
# minisign is Debian's package; the host's Debian minisign stands in for it),
# and release builds.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

prebuilt=false
case "${1:-}" in
    --prebuilt) prebuilt=true ;;
    '') ;;
    *) echo "usage: $0 [--prebuilt]" >&2; exit 2 ;;
esac

fail() { echo "check-container-recipe: $*" >&2; exit 1; }
step() { printf '==> %s\n' "$*"; }

# The recipe's pieces that this script relies on, read from the Dockerfile.
grep -qx 'RUN scripts/build-runner.sh --release /lucet-wasi' Dockerfile ||
    fail "the Dockerfile no longer builds the runner with scripts/build-runner.sh"
mapfile -t builds < <(grep -oE 'cargo (build|rustc) --release --locked -p [^&\\]*' Dockerfile | sed 's/ *$//')
[ "${#builds[@]}" -eq 2 ] ||
    fail "expected the Dockerfile's two cargo builds after the runner's (the server alone, then the rest), found ${#builds[@]}"
[ "${builds[0]}" = "cargo build --release --locked -p lucet-serve" ] ||
    fail "the Dockerfile's second build must be the server on its own, not: ${builds[0]}"
grep -q 'scripts/stage-image.sh' Dockerfile || fail "the Dockerfile no longer runs scripts/stage-image.sh"
rsign_version=$(sed -n 's/^ARG RSIGN2_VERSION=//p' Dockerfile)
[ -n "$rsign_version" ] || fail "no ARG RSIGN2_VERSION in the Dockerfile"
grep -qx "RSIGN2_VERSION=$rsign_version" scripts/install-test-deps.sh ||
    fail "the Dockerfile ships rsign2 $rsign_version but scripts/install-test-deps.sh installs another version"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
prefix="$scratch/image"

# build N COPY: the Dockerfile's build N in the debug profile; COPY, if given,
# is a binary it made, set aside into the scratch directory as the Dockerfile
# sets it aside before the next build.
build() {
    step "${builds[$1]/--release /}   (debug profile)"
    ${builds[$1]/--release /}
    if [ -n "${2:-}" ]; then
        cp "target/debug/$2" "$scratch/$2"
    fi
}

if $prebuilt; then
    step "reusing built binaries (--prebuilt)"
    runner=target/runtime-only/lucet-wasi
    for file in "$runner" target/debug/lucetc target/debug/lucet-objdump target/debug/lucet-oci target/debug/lucet-dist; do
        [ -x "$file" ] || fail "$file is not built: run scripts/test.sh, or this script without --prebuilt"
    done
    build 0 lucet-serve
else
    step "scripts/build-runner.sh   (debug profile)"
    runner="$scratch/lucet-wasi"
    scripts/build-runner.sh "$runner"
    build 0 lucet-serve
    build 1
fi
server="$scratch/lucet-serve"

rsign_bin=$(command -v rsign) || fail "rsign is not installed: run scripts/install-test-deps.sh"
"$rsign_bin" --version | grep -qF "$rsign_version" ||
    fail "rsign is $("$rsign_bin" --version), the image ships $rsign_version: run scripts/install-test-deps.sh"

step "scripts/stage-image.sh into a scratch prefix"
scripts/stage-image.sh --tools target/debug --runner "$runner" --server "$server" \
    --rsign "$rsign_bin" "$prefix"

usr_local="$prefix/usr/local"
share="$usr_local/share"
# Only the installed tools, and the system's own, from here on.
export PATH="$usr_local/bin:/usr/local/bin:/usr/bin:/bin"
unset LUCET_SIGNATURE_PK SOURCE_DATE_EPOCH

step "installed files and modes"
while read -r mode path rest; do
    case "$mode" in '' | '#'*) continue ;; esac
    [ "$(stat -c %a "$usr_local/$path")" = "$mode" ] || fail "$path is not installed with mode $mode"
done < crates/dist/install-manifest
for tool in lucetc lucet-wasi lucet-serve lucet-objdump lucet-oci rsign; do
    [ "$(command -v "$tool")" = "$usr_local/bin/$tool" ] || fail "$tool does not resolve to the installed one"
done

step "lucet-wasi: linked statically, still position-independent (loaded at a random address)"
headers=$(readelf -hlW "$usr_local/bin/lucet-wasi")
grep -Eq '^ +Type: +DYN' <<<"$headers" || fail "lucet-wasi is not a position-independent executable"
if grep -q 'INTERP' <<<"$headers"; then
    fail "lucet-wasi is linked dynamically: build it with scripts/build-runner.sh, as the Dockerfile does"
fi

step "shared libraries: only what a slim Debian image has (libc6, libgcc-s1)"
for tool in lucetc lucet-serve lucet-objdump lucet-oci rsign; do
    others=$(ldd "$usr_local/bin/$tool" | awk '{ print $1 }' |
        grep -Ev '^(linux-vdso\.so\.1|/lib64/ld-linux.*|lib(c|m|dl|rt|pthread)\.so\.6|libgcc_s\.so\.1)$' || true)
    [ -z "$others" ] || fail "$tool needs libraries the image lacks:" $others
done

step "versions"
version() {
    local line
    line=$("$1" --version)
    echo "$line"
    [[ "$line" == *"$2"* ]] || fail "$1 --version does not say $2"
}
version lucetc "compiler: cranelift"
version lucet-wasi "compiler: none"
version lucet-serve "compiler: none"
version lucet-objdump "artifact format"
version lucet-oci "OCI artifact type"
version rsign "rsign2 $rsign_version"

step "lucet-wasi: oci:// through the lucet-oci installed beside it"
# No registry listens on port 1: the refusal must come from lucet-oci
# trying to reach it, not from a runner that cannot find lucet-oci.
if refusal=$(LUCET_CACHE_DIR="$scratch/cache" lucet-wasi \
    --signature-pk examples/hello/publisher.pub oci://127.0.0.1:1/apps/hello:1.0 2>&1); then
    fail "lucet-wasi ran an oci:// reference no registry serves"
fi
grep -qF "with $usr_local/bin/lucet-oci: " <<<"$refusal" && grep -q "Connection refused" <<<"$refusal" ||
    fail "lucet-wasi did not fetch through the installed lucet-oci: $refusal"

step "man pages"
for tool in lucetc lucet-wasi lucet-serve lucet-objdump lucet-oci; do
    page="$share/man/man1/$tool.1"
    warnings=$(groff -man -ww -z "$page" 2>&1)
    [ -z "$warnings" ] || fail "$page: $warnings"
    if command -v man > /dev/null; then
        found=$(MANPATH="$share/man" man -w "$tool")
        [ "$found" = "$page" ] || fail "man -w $tool found $found, not $page"
    fi
done
command -v man > /dev/null || echo "(man not installed: pages checked with groff only)"
# A here-string, not a pipe: with pipefail, `grep -q` quitting at the first
# match can kill sed with SIGPIPE on a page longer than one write.
man_text=$(sed 's/\\-/-/g' "$share/man/man1/lucet-wasi.1")
grep -q "124   --timeout was reached" <<< "$man_text" ||
    fail "lucet-wasi.1 lacks its exit status table"

step "completions"
for tool in lucetc lucet-wasi lucet-serve lucet-objdump lucet-oci; do
    bash -n "$share/bash-completion/completions/$tool"
    for shell in zsh fish; do
        if command -v "$shell" > /dev/null; then
            file=$([ "$shell" = zsh ] && echo "$share/zsh/site-functions/_$tool" ||
                echo "$share/fish/vendor_completions.d/$tool.fish")
            "$shell" -n "$file" || fail "$file: $shell syntax error"
        fi
    done
done
offered=$(bash -c 'source "$1"; COMP_WORDS=(lucet-wasi --signature-); COMP_CWORD=1
    _lucet__wasi lucet-wasi --signature- lucet-wasi; printf "%s\n" "${COMPREPLY[@]}"' \
    complete "$share/bash-completion/completions/lucet-wasi")
grep -qx -- "--signature-pk" <<< "$offered" || fail "bash completion of lucet-wasi does not offer --signature-pk"
offered=$(bash -c 'source "$1"; COMP_WORDS=(lucet-serve --signature-); COMP_CWORD=1
    _lucet__serve lucet-serve --signature- lucet-serve; printf "%s\n" "${COMPREPLY[@]}"' \
    complete "$share/bash-completion/completions/lucet-serve")
grep -qx -- "--signature-pk" <<< "$offered" || fail "bash completion of lucet-serve does not offer --signature-pk"
for shell in zsh fish; do
    command -v "$shell" > /dev/null || echo "($shell not installed: its completions were not parsed)"
done

step "a signed hello-world through the installed tools"
work="$scratch/work"
mkdir "$work"
cp examples/hello/hello.wat examples/hello/hello.wat.minisig examples/hello/publisher.pub "$work/"
(
    cd "$work"
    # The bundled module, as its publisher signed it.
    lucetc --signature-keygen --signature-sk=raw:ci.key --signature-pk ci.pub
    lucetc hello.wat --signature-pk publisher.pub --signature-sk=raw:ci.key -o hello.so
    [ "$(lucet-wasi --signature-pk ci.pub hello.so)" = "Hello, world!" ] || fail "hello.so did not greet"
    lucet-objdump --signature-pk ci.pub --extract-signature extracted hello.so > /dev/null
    minisign -Vm extracted/image.bin -p ci.pub > /dev/null
    # A source signed with the installed rsign.
    cp hello.wat app.wat
    rsign generate -W -p app-publisher.pub -s app-publisher.key > /dev/null
    rsign sign -W -s app-publisher.key -p app-publisher.pub app.wat > /dev/null
    lucetc app.wat --signature-pk app-publisher.pub --signature-sk=raw:ci.key -o app.so
    lucet-wasi --signature-pk ci.pub app.so > /dev/null
    # And a tampered artifact is refused.
    cp app.so tampered.so
    printf 'TAMPERED' | dd of=tampered.so bs=1 seek=4096 conv=notrunc status=none
    if lucet-wasi --signature-pk ci.pub tampered.so 2> /dev/null; then
        fail "a tampered artifact ran"
    fi
    # The installed server refuses before it listens (no wasi:http component
    # is at hand here: lucet-serve's own tests serve one): a tampered artifact,
    # and a verified module that is not a wasi:http/proxy component. Bounded,
    # in case it served instead.
    refused() {
        local status=0
        timeout 60 lucet-serve --listen 127.0.0.1:0 --signature-pk ci.pub "$1" \
            2> serve.err || status=$?
        [ "$status" -eq 1 ] && grep -q "$2" serve.err ||
            fail "lucet-serve $1 exited with $status, not refused for \"$2\": $(cat serve.err)"
    }
    refused tampered.so "signature does not verify"
    refused hello.so "not a component"
)

echo "container recipe check: OK (debug profile; $($prebuilt && echo "prebuilt binaries" || echo "built as the Dockerfile builds"))"
