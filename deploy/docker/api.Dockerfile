# syntax=docker/dockerfile:1
# dialq's API image: the API and dialqctl, as a numeric non-root user.
#   docker build -f deploy/docker/api.Dockerfile -t dialq-api .
# The API links the SIP bridge's packages through internal/app, and with them
# libopus and libsoxr through cgo: it cannot be built with CGO_ENABLED=0 for
# a static distroless image (make lint checks this). So it is built with the
# -dev packages deploy/stack.sh tools installs and runs on Debian slim with
# their runtime libraries, as the worker does.
# The context is the repository's root. The SQL migrations are embedded in the
# binaries (migrations/migrations.go), so DIALQ_MIGRATE=true (the default)
# applies them at start with nothing else shipped. No Docker engine runs on
# the development machine: `make lint` parses this file and checks its stages
# and user (docs/deploy.md), it does not build it.

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
RUN CGO_ENABLED=1 go build -trimpath -ldflags=-s -o /out/api ./cmd/api \
 && CGO_ENABLED=1 go build -trimpath -ldflags=-s -o /out/dialqctl ./cmd/dialqctl

FROM debian:12.12-slim AS api
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopus0 libopusfile0 libsoxr0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 dialq \
 && useradd --system --uid 10001 --gid 10001 --no-create-home dialq
COPY --from=build /out/api /out/dialqctl /dialq/
# By number, so a runAsNonRoot policy can check it.
USER 10001:10001
ENV DIALQ_API_ADDR=0.0.0.0:8080
EXPOSE 8080
# No curl in the slim image: dialqctl probe is the health check's HTTP client.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/dialq/dialqctl", "probe", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/dialq/api"]
