# syntax=docker/dockerfile:1
# Multi-stage build: a pinned Rust toolchain builds the release binary with a cached dependency
# layer; the runtime is distroless (glibc, CA certificates, a non-root user) plus the binary.
# scripts/check-release builds the binary exactly as this file does (no Docker engine needed).

FROM rust:1.95.0-slim-bookworm AS builder
WORKDIR /src
# Dependencies first: this layer is rebuilt only when the manifests change.
COPY Cargo.toml Cargo.lock ./
COPY emulators/Cargo.toml emulators/Cargo.toml
RUN mkdir -p src emulators/src \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs emulators/src/lib.rs \
    && cargo build --release --locked -p chatops \
    && rm -rf src emulators/src
COPY src src
COPY assets assets
COPY emulators/src emulators/src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked -p chatops

# Image under 40 MB: about 25 MB of base and 13 MB of binary (scripts/check-release checks).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /src/target/release/chatops /usr/local/bin/chatops
USER 65532:65532
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/chatops"]
CMD ["run", "--config", "/etc/chatops/chatops.toml", "--log-format", "json"]
