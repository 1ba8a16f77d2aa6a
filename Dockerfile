# exo-operator container image: the operator binary only (no simulators), static, on a
# distroless base, running as a non-root user.
#
#   docker build -t exo-operator .

FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
COPY benches ./benches
# Without the default `sim` feature: neither the simulators nor the demo are built in.
RUN cargo build --release --locked --no-default-features \
        --target x86_64-unknown-linux-musl --bin exo-operator \
    && cp target/x86_64-unknown-linux-musl/release/exo-operator /exo-operator

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /exo-operator /exo-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/exo-operator"]
CMD ["run"]
