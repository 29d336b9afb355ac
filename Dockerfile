# syntax=docker/dockerfile:1
# The pikube binary as a small multi-arch image, for the workloads in deploy/:
#
#   docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7 \
#     -t ghcr.io/pikube/pikube:0.1.0 --push .
#
# The build stage runs on the build machine's own platform and cross-compiles a static musl
# binary for each target platform (no emulation, so an arm/v7 image builds in minutes); the
# final stage is distroless/static with only that binary, run as the non-root user 65532.
#
# Not built by this project's CI: its machines have no Docker daemon and reach no image
# registry. What CI checks instead (crates/pikube-*/tests/manifests.rs): that this file's
# user, port and command match deploy/. The build stage's compiler setup was checked by
# hand with the same commands: the aarch64 musl release build, SQLite included, links a
# static binary.

ARG RUST_VERSION=1.95

FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS build
ARG TARGETPLATFORM
# The Rust target, a GCC for the target's architecture (the linker; Rust's musl targets bring
# their own C library and start files), and musl's headers for that architecture: C code
# (ring; SQLite, bundled by libsqlite3-sys for the Movies services) must be compiled
# against musl, not glibc, or it links to glibc-only symbols such as open64. Debian's
# musl-dev of the target architecture ships a GCC specs file that does exactly that.
RUN set -eu; \
    case "$TARGETPLATFORM" in \
      linux/amd64)  triple=x86_64-unknown-linux-musl;      arch=amd64; gnu=x86_64-linux-gnu;   musl=x86_64-linux-musl ;; \
      linux/arm64)  triple=aarch64-unknown-linux-musl;     arch=arm64; gnu=aarch64-linux-gnu;  musl=aarch64-linux-musl ;; \
      linux/arm/v7) triple=armv7-unknown-linux-musleabihf; arch=armhf; gnu=arm-linux-gnueabihf; musl=arm-linux-musleabihf ;; \
      *) echo "unsupported platform: $TARGETPLATFORM" >&2; exit 1 ;; \
    esac; \
    dpkg --add-architecture "$arch"; \
    apt-get update; \
    if [ "$(dpkg --print-architecture)" != "$arch" ]; then \
      apt-get install -y --no-install-recommends "gcc-$(echo "$gnu" | tr _ -)"; \
    fi; \
    apt-get install -y --no-install-recommends "musl-dev:$arch"; \
    rm -rf /var/lib/apt/lists/*; \
    printf '#!/bin/sh\nexec %s-gcc -specs /usr/lib/%s/musl-gcc.specs "$@"\n' "$gnu" "$musl" >/usr/local/bin/musl-target-cc; \
    chmod +x /usr/local/bin/musl-target-cc; \
    rustup target add "$triple"; \
    echo "$triple" >/triple; \
    { echo "CARGO_TARGET_$(echo "$triple" | tr a-z- A-Z_)_LINKER=$gnu-gcc"; \
      echo "CC_$(echo "$triple" | tr - _)=/usr/local/bin/musl-target-cc"; } >/target.env

WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    set -eu; \
    triple=$(cat /triple); \
    env $(cat /target.env) CARGO_PROFILE_RELEASE_STRIP=symbols \
      cargo build --release --locked -p pikube --target "$triple"; \
    cp "target/$triple/release/pikube" /pikube

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /pikube /usr/local/bin/pikube
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/pikube"]
CMD ["serve", "mandelbrot", "--listen", "0.0.0.0:8080"]
