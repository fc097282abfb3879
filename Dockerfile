# The lucet tools in a slim Debian image: lucetc, lucet-wasi and lucet-serve
# (both built without the compiler), lucet-objdump, rsign2 and minisign, with
# man pages and bash, zsh and fish completions in their standard places under
# /usr/local.
#
#   docker build -t lucet .
#   docker run --rm -v "$PWD:/work" lucet lucet-wasi --signature-pk app.pub app.so
#   docker run --rm -p 8080:8080 -v "$PWD:/work" lucet \
#       lucet-serve --listen 0.0.0.0:8080 --signature-pk app.pub http.so
#
# scripts/check-container-recipe.sh performs this recipe's build and install
# steps without a container engine. It runs the `cargo build` commands below
# as written here (in the debug profile) and checks that the rsign2 version
# below is the one the tests use; the installed files are listed once, in
# crates/dist/install-manifest, and installed by scripts/stage-image.sh for
# both.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
ARG RSIGN2_VERSION=0.6.7
WORKDIR /src

# rsign2 first: this layer survives changes to lucet's sources.
RUN cargo install rsign2 --version "${RSIGN2_VERSION}" --locked

COPY . .

# The runner and the server, each built on its own. Cargo unifies features
# across the packages of one build: built together with lucetc (which turns on
# lucet-runtime's `compiler` feature), lucet-wasi or lucet-serve would link the
# Cranelift compiler as well. Each is set aside before anything else is built.
# The runner is linked statically (scripts/build-runner.sh says why).
RUN scripts/build-runner.sh --release /lucet-wasi
RUN cargo build --release --locked -p lucet-serve \
 && cp target/release/lucet-serve /lucet-serve

# The compiler, the inspector, the registry client, and the generator of man
# pages and completions.
RUN cargo build --release --locked -p lucetc -p lucet-objdump -p lucet-oci -p lucet-dist

# /staging/usr/local as crates/dist/install-manifest lists it (the script
# refuses a runner or a server that carries a compiler).
RUN scripts/stage-image.sh --tools target/release --runner /lucet-wasi \
        --server /lucet-serve --rsign "${CARGO_HOME}/bin/rsign" /staging

FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends minisign \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /staging/ /
# fish and bash-completion find vendor completions through XDG_DATA_DIRS; this
# is its usual default, set so that /usr/local/share is searched. Reading the
# man pages needs man-db, and bash completion the bash-completion package: a
# slim image has neither (apt-get install man-db bash-completion).
ENV XDG_DATA_DIRS=/usr/local/share:/usr/share
RUN useradd --create-home --uid 10001 lucet
USER lucet
WORKDIR /work
CMD ["bash"]
