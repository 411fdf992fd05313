# syntax=docker/dockerfile:1
# Multi-stage build: a pinned Rust toolchain builds the release binary with a cached dependency
# layer; the runtime is distroless (glibc, CA certificates, a non-root user) plus the binary.
# scripts/check-release builds the binary exactly as this file does (no Docker engine needed).

# Both base images are pinned by digest (the multi-platform index), so a rebuild gets the same
# bytes as the one tested; the tag only says what the digest is. The digests were taken from
# public Dockerfiles on GitHub that pin these exact tags (several independent ones agree on each;
# the machine that wrote this cannot reach a registry). `nonroot` is re-pushed as Debian updates:
# its digest is one build of it. To move on: `docker buildx imagetools inspect IMAGE:TAG`, copy
# the index's `Digest:` into the FROM line, run scripts/test.
FROM rust:1.95.0-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS builder
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
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
COPY --from=builder /src/target/release/chatops /usr/local/bin/chatops
USER 65532:65532
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/chatops"]
CMD ["run", "--config", "/etc/chatops/chatops.toml", "--log-format", "json"]
