# syntax=docker/dockerfile:1
# Multi-stage build: a pinned Rust toolchain builds the release binary with a cached dependency
# layer; the runtime image holds the binary, CA certificates and nothing else.

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
# Dependencies first: this layer is rebuilt only when the manifests change.
COPY Cargo.toml Cargo.lock ./
COPY emulators/Cargo.toml emulators/Cargo.toml
RUN mkdir -p src emulators/src \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs emulators/src/lib.rs \
    && cargo build --release --locked -p chatops \
    && rm -rf src emulators/src
COPY src src
COPY emulators/src emulators/src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked -p chatops

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home chatops
COPY --from=builder /src/target/release/chatops /usr/local/bin/chatops
USER 10001
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/chatops"]
CMD ["run", "--config", "/etc/chatops/chatops.toml", "--log-format", "json"]
