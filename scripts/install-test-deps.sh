#!/usr/bin/env bash
# Installs what the tests use besides the Rust toolchain: the reference
# Minisign implementations for the interop tests (minisign from Debian,
# rsign2 pinned from crates.io), util-linux's `script` for pseudo-terminal
# tests, groff/man to check the generated man pages, npm for the
# JavaScript component (scripts/build-js-component.sh), wrk, the load
# generator of the benchmark's P8 (smoke-run by scripts/test.sh), curl
# for the guide, and for lucet-oci's tests a real OCI registry (CNCF
# distribution, Debian's docker-registry), skopeo and Apache's htpasswd;
# for containerd-shim-lucet, containerd with ctr and runc (its tests start
# their own), and what runwasi's crates build with: protoc and libseccomp.
# Idempotent: installed tools are kept.
set -euo pipefail

RSIGN2_VERSION=0.6.7
export PATH="$HOME/.cargo/bin:$PATH"

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v minisign >/dev/null || missing+=(minisign)
command -v script >/dev/null || missing+=(bsdutils)
command -v groff >/dev/null || missing+=(groff-base)
command -v man >/dev/null || missing+=(man-db)
# npm installs ComponentizeJS for scripts/build-js-component.sh.
command -v npm >/dev/null || missing+=(npm)
command -v wrk >/dev/null || missing+=(wrk)
# The guide's "Serving HTTP" section asks lucet-serve with curl.
command -v curl >/dev/null || missing+=(curl)
# nm and readelf: scripts/build-runner.sh and check-container-recipe.sh read
# the runner's symbols and headers (a Rust toolchain's linker usually
# brings them).
command -v nm >/dev/null && command -v readelf >/dev/null || missing+=(binutils)
# lucet-oci's tests start their own registries; skopeo reads and copies
# what lucet-oci pushes; htpasswd makes a password file for registry auth.
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
# containerd-shim-lucet: containerd and ctr to test it under; protoc
# (containerd's API) and libseccomp (youki's libcontainer) to build it.
command -v containerd >/dev/null || missing+=(containerd)
command -v runc >/dev/null || missing+=(runc)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists libseccomp 2>/dev/null || missing+=(libseccomp-dev)
if [ ${#missing[@]} -gt 0 ]; then
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if ! rsign --version 2>/dev/null | grep -q "$RSIGN2_VERSION"; then
    cargo install rsign2 --version "$RSIGN2_VERSION" --locked
fi
