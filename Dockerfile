# sandbox-executor image: compile stage, then a slim Debian runtime.
#
#   docker build -t sandbox-executor:dev .                      # compiles (needs a registry)
#   podman build --target runtime-prebuilt -t sandbox-executor:dev \
#     --build-arg BASE_IMAGE=localhost/debian:bookworm .          # takes target/release/*
#
# The prebuilt target copies a host-built sandbox-executor and libsandbox_zygote.so from
# PREBUILT_DIR (target/release by default: `cargo build --release -p sandbox-executor
# -p sandbox-zygote`), for machines that can build on the host but reach no registry.
# See docs/deploy.md.

ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sandbox-executor -p sandbox-zygote \
 && mkdir -p /out \
 && cp target/release/sandbox-executor target/release/libsandbox_zygote.so /out/

FROM ${BASE_IMAGE} AS runtime-base
# python3-venv and npm build template environments; tini reaps orphans as PID 1 and passes
# SIGTERM on to the daemon; python3 also answers the health check.
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      bash ca-certificates nodejs npm procps python3 python3-venv tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
# EXECUTOR_HOST=0.0.0.0 so a published port reaches the daemon. EXECUTOR_ALLOW_UNAUTHENTICATED
# lets the seeds' `docker run -p 8080:8080 -e INTERNAL_API_TOKEN=...` start without an API
# token; it has no effect once EXECUTOR_API_TOKEN is set, which every shared deployment must do.
ENV EXECUTOR_HOST=0.0.0.0 \
    EXECUTOR_PORT=8080 \
    EXECUTOR_ALLOW_UNAUTHENTICATED=true \
    STATE_DIR=/var/lib/sandbox-executor \
    LOG_FORMAT=json
RUN mkdir -p /var/lib/sandbox-executor /usr/local/lib/sandbox-executor
VOLUME ["/var/lib/sandbox-executor"]
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('EXECUTOR_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/sandbox-executor"]
CMD ["serve"]

# The daemon finds the zygote library in ../lib/sandbox-executor beside its binary.
FROM runtime-base AS runtime-prebuilt
ARG PREBUILT_DIR=target/release
COPY ${PREBUILT_DIR}/sandbox-executor /usr/local/bin/sandbox-executor
COPY ${PREBUILT_DIR}/libsandbox_zygote.so /usr/local/lib/sandbox-executor/libsandbox_zygote.so

FROM runtime-base AS runtime
COPY --from=build /out/sandbox-executor /usr/local/bin/sandbox-executor
COPY --from=build /out/libsandbox_zygote.so /usr/local/lib/sandbox-executor/libsandbox_zygote.so
