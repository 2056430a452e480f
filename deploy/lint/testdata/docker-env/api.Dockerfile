# Broken on purpose: a variable the API does not read (deploy/lint/lint_test.go).
# syntax=docker/dockerfile:1
# dialq's API image: the API and dialqctl, static (CGO_ENABLED=0), on
# distroless as its numeric non-root user.
#   docker build -f deploy/docker/api.Dockerfile -t dialq-api .
# The context is the repository's root. The SQL migrations are embedded in the
# binaries (migrations/migrations.go), so DIALQ_MIGRATE=true (the default)
# applies them at start with nothing else shipped. No Docker engine runs on
# the development machine: `make lint` parses this file and checks its stages
# and user (docs/deploy.md), it does not build it.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# Only the sources: not .dialq/ (the local stack's data) or built binaries.
COPY cmd ./cmd
COPY internal ./internal
COPY migrations ./migrations
RUN CGO_ENABLED=0 go build -trimpath -ldflags=-s -o /out/api ./cmd/api \
 && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o /out/dialqctl ./cmd/dialqctl

# distroless publishes no versioned tags: pin it by digest where images are
# promoted (gcr.io/distroless/static-debian12:nonroot@sha256:...).
FROM gcr.io/distroless/static-debian12:nonroot AS api
COPY --from=build /out/api /out/dialqctl /dialq/
# distroless's nonroot user, by number so a runAsNonRoot policy can check it.
USER 65532:65532
ENV DIALQ_API_ADDR=0.0.0.0:8080 DIALQ_API_ADR=0.0.0.0:8080
EXPOSE 8080
# No shell or curl here: dialqctl probe is the health check's HTTP client.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/dialq/dialqctl", "probe", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/dialq/api"]
