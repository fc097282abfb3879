#!/usr/bin/env bash
# Lays out what the container image installs under /usr/local, exactly as
# crates/dist/install-manifest lists it: lucetc, lucet-wasi, lucet-serve,
# lucet-objdump, rsign, and the man pages and shell completions lucet-dist
# generates.
#
# The Dockerfile's builder stage runs this script and the final stage copies
# the result; scripts/check-container-recipe.sh runs it too, into a scratch
# prefix. One list and one install step serve both, so the image and its
# offline check cannot install different files.
#
# usage: scripts/stage-image.sh --tools DIR --runner FILE --server FILE --rsign FILE DEST
#   --tools DIR    where lucetc, lucet-objdump and lucet-dist were built
#   --runner FILE  lucet-wasi built on its own, without the compiler (checked)
#   --server FILE  lucet-serve built on its own, without the compiler (checked)
#   --rsign FILE   the rsign binary to ship
#   DEST           files land in DEST/usr/local/...
set -euo pipefail

manifest="$(dirname "$0")/../crates/dist/install-manifest"
tools= runner= server= rsign= dest=
while [ $# -gt 0 ]; do
    case "$1" in
        --tools) tools=$2; shift 2 ;;
        --runner) runner=$2; shift 2 ;;
        --server) server=$2; shift 2 ;;
        --rsign) rsign=$2; shift 2 ;;
        -*) echo "stage-image: unknown option $1" >&2; exit 2 ;;
        *) dest=$1; shift ;;
    esac
done
if [ -z "$tools" ] || [ -z "$runner" ] || [ -z "$server" ] || [ -z "$rsign" ] || [ -z "$dest" ]; then
    echo "usage: $0 --tools DIR --runner FILE --server FILE --rsign FILE DEST" >&2
    exit 2
fi

# Cargo unifies features across the packages of one build: a lucet-wasi or
# lucet-serve built together with lucetc links the Cranelift compiler. The
# image ships the lean ones. `--version` reports lucet-runtime's `compiler`
# feature; the binary itself is searched too, since another dependency could
# turn on wasmtime's `cranelift` feature without that one.
lean() {
    local file=$1 package=$2
    if ! grep -q "compiler: none" <<<"$("$file" --version)" ||
        grep -qaE 'cranelift[-_]codegen' "$file"; then
        echo "stage-image: $file carries a compiler ($("$file" --version));" \
            "build it on its own: cargo build --locked -p $package" >&2
        exit 1
    fi
}
lean "$runner" lucet-wasi
lean "$server" lucet-serve

input=$(mktemp -d)
trap 'rm -rf "$input"' EXIT
mkdir "$input/bin"
cp "$tools/lucetc" "$tools/lucet-objdump" "$tools/lucet-oci" "$input/bin/"
cp "$runner" "$input/bin/lucet-wasi"
cp "$server" "$input/bin/lucet-serve"
cp "$rsign" "$input/bin/rsign"
"$tools/lucet-dist" --out "$input/share" > /dev/null

listed=()
while read -r mode path rest; do
    case "$mode" in '' | '#'*) continue ;; esac
    if [ -n "$rest" ] || [ -z "$path" ]; then
        echo "stage-image: malformed manifest line: $mode $path $rest" >&2
        exit 1
    fi
    if [ ! -f "$input/$path" ]; then
        echo "stage-image: $path is in the install manifest but was not built or generated" >&2
        exit 1
    fi
    install -D -m "$mode" "$input/$path" "$dest/usr/local/$path"
    listed+=("$path")
done < "$manifest"

# Anything built or generated but not listed would silently be left out.
unlisted=$(comm -23 \
    <(cd "$input" && find . -type f | sed 's|^\./||' | sort) \
    <(printf '%s\n' "${listed[@]}" | sort))
if [ -n "$unlisted" ]; then
    echo "stage-image: not in crates/dist/install-manifest, so not installed:" $unlisted >&2
    exit 1
fi
echo "stage-image: ${#listed[@]} files installed under $dest/usr/local"
