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
# registry. What is checked there instead: the musl release build for x86_64 and aarch64,
# and (crates/pikube-mandelbrot/tests/manifests.rs) that this file's user, port and command
# match deploy/mandelbrot.

ARG RUST_VERSION=1.95

FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS build
ARG TARGETPLATFORM
# The Rust target and a GCC for the target's architecture, as the linker and as the C
# compiler of ring (TLS, via pikube-cluster's HTTP client), which needs no C library headers.
# Rust's musl targets bring their own C library and start files, so a glibc cross GCC does.
RUN set -eu; \
    case "$TARGETPLATFORM" in \
      linux/amd64)  triple=x86_64-unknown-linux-musl;      arch=amd64; gnu=x86_64-linux-gnu ;; \
      linux/arm64)  triple=aarch64-unknown-linux-musl;     arch=arm64; gnu=aarch64-linux-gnu ;; \
      linux/arm/v7) triple=armv7-unknown-linux-musleabihf; arch=armhf; gnu=arm-linux-gnueabihf ;; \
      *) echo "unsupported platform: $TARGETPLATFORM" >&2; exit 1 ;; \
    esac; \
    if [ "$(dpkg --print-architecture)" != "$arch" ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends "gcc-$(echo "$gnu" | tr _ -)"; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    rustup target add "$triple"; \
    echo "$triple" >/triple; \
    { echo "CARGO_TARGET_$(echo "$triple" | tr a-z- A-Z_)_LINKER=$gnu-gcc"; \
      echo "CC_$(echo "$triple" | tr - _)=$gnu-gcc"; } >/target.env

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
