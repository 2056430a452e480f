# Broken on purpose: the cgo worker on an image with no C library (deploy/lint/lint_test.go).
# syntax=docker/dockerfile:1
# dialq's worker image. The worker links libopus and libsoxr through cgo (the
# Exotel bridge's media path), so it is built with their -dev packages (the
# ones deploy/stack.sh tools installs) and runs on Debian slim with their
# runtime libraries, as a numeric non-root user.
#   docker build -f deploy/docker/worker.Dockerfile -t dialq-worker .
# The context is the repository's root. The SQL migrations are embedded in the
# binaries, so DIALQ_MIGRATE=true (the default) applies them at start.
# No Docker engine runs on the development machine: `make lint` parses this
# file and checks its stages and user (docs/deploy.md), it does not build it.

FROM golang:1.26.8-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopus-dev libopusfile-dev libsoxr-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# Only the sources: not .dialq/ (the local stack's data) or built binaries.
COPY cmd ./cmd
COPY internal ./internal
COPY migrations ./migrations
RUN CGO_ENABLED=1 go build -trimpath -ldflags=-s -o /out/worker ./cmd/worker \
 && CGO_ENABLED=1 go build -trimpath -ldflags=-s -o /out/dialqctl ./cmd/dialqctl

FROM gcr.io/distroless/static-debian12:nonroot AS worker
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopus0 libopusfile0 libsoxr0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 dialq \
 && useradd --system --uid 10001 --gid 10001 --no-create-home dialq
COPY --from=build /out/worker /out/dialqctl /dialq/
USER 10001:10001
# The worker's /healthz, /readyz and /metrics.
ENV DIALQ_WORKER_HTTP_ADDR=0.0.0.0:9091
# The Exotel bridge: in-dialog SIP (BYE, re-INVITE) over TCP and UDP on 5060,
# RTP on the trunk's port range (rtp_port_min-rtp_port_max, dialqctl
# save-trunk -rtp-ports) at DIALQ_RTP_BIND_IP. Publish both, or run with host
# networking (deploy/k8s/worker.yaml does); docs/deploy.md.
ENV DIALQ_SIP_LISTEN=0.0.0.0:5060 DIALQ_RTP_BIND_IP=0.0.0.0
EXPOSE 9091 5060/tcp 5060/udp
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/dialq/dialqctl", "probe", "http://127.0.0.1:9091/healthz"]
# The worker drains its calls on SIGTERM (DIALQ_SHUTDOWN_TIMEOUT, then
# DIALQ_DRAIN_TIMEOUT): give `docker stop` a -t longer than both.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/dialq/worker"]
