# syntax=docker/dockerfile:1
# The hrconnector image: the operator (`controller`) and the PVC upload Jobs (`upload`) run the
# same binary. Build: docs/operating.md, "Building the image".
#
#   docker buildx build --platform linux/amd64 -t REGISTRY/hrconnector:0.2.0 --push .
#
# The FIPS 140-3 build (AWS-LC's FIPS module; docs/operating.md, "FIPS 140-3") is the same
# image built with FEATURES=fips, tagged with the suffix -fips:
#
#   docker buildx build --platform linux/amd64 --build-arg FEATURES=fips \
#       -t REGISTRY/hrconnector:0.2.0-fips --push .

# The alternative to scripts/build-image.sh for users who build with Docker and push to a
# registry (docs/operating.md, "Building the image"). Base images are pinned by digest, so a
# rebuild uses the same toolchain and runtime files until the digests are refreshed on purpose
# (docs/operating.md says how).
# Cargo features of the binary: empty (the default build) or "fips".
ARG FEATURES=""

# ---- build: the Rust toolchain on Debian 12 (glibc matches the runtime image) ----
FROM docker.io/library/rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1 AS build
ARG FEATURES
WORKDIR /src
# The FIPS module (aws-lc-fips-sys) is built with CMake and Go; the default build needs neither.
RUN if [ "$FEATURES" = "fips" ]; then \
        apt-get update -qq \
     && apt-get install -y -qq --no-install-recommends cmake golang-go \
     && rm -rf /var/lib/apt/lists/*; \
    fi
# Only what the build reads (see .dockerignore); the demo embeds examples/employee_termination_data.csv.
COPY Cargo.toml Cargo.lock ./
# Build settings (aws-lc's entropy sources): the same as any other build of the repository.
COPY .cargo/config.toml ./.cargo/config.toml
COPY src ./src
# Cargo.toml declares the benchmarks; cargo refuses a manifest whose targets are missing.
COPY benches ./benches
COPY examples/employee_termination_data.csv ./examples/employee_termination_data.csv
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin hrconnector --features "$FEATURES" \
 && install -D -m 0755 target/release/hrconnector /out/hrconnector \
 && if [ "$FEATURES" = "fips" ]; then /out/hrconnector version | grep -qx 'fips: true'; fi

# ---- run: distroless "cc" (glibc, libgcc, CA certificates; no shell, no package manager) ----
# (scripts/build-image.sh links statically and needs none of this: its image holds the binary
# alone. This dynamically linked build keeps the FIPS module's usual build.)
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
COPY --from=build /out/hrconnector /usr/local/bin/hrconnector
# 65532 is distroless' "nonroot"; numeric so runAsNonRoot can verify it. The chart and the
# upload Jobs run as 65532:65532 too.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/hrconnector"]
CMD ["controller"]

LABEL org.opencontainers.image.title="hrconnector" \
      org.opencontainers.image.description="Uploads HR resignation data to Microsoft Purview's HR connector; Kubernetes operator"
