# syntax=docker/dockerfile:1
#
# Static, non-root image of the vodgate gateway.
#   docker build -t vodgate .
#   docker run --rm -p 8080:8080 --env-file configs/env.example vodgate
# Configuration: VODGATE_* variables or -config (mount a file), see configs/.

FROM golang:1.26 AS build
WORKDIR /src
# Module downloads are cached in their own layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/gateway ./cmd/gateway

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gateway /gateway
# Inside a container the gateway must listen on all interfaces.
ENV VODGATE_LISTEN=0.0.0.0:8080
USER 65532:65532
EXPOSE 8080
# Probes: GET /healthz (liveness), GET /readyz (Redis reachable).
ENTRYPOINT ["/gateway"]
