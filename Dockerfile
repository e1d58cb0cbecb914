# syntax=docker/dockerfile:1
#
# The zmqkit command as a static image: a Go builder stage, then the one
# binary on distroless/static (no shell, no libc), run as a non-root user.
#
#   docker build -t zmqkit .
#   docker run --rm zmqkit version
#   docker run --rm -p 5559:5559 -p 5560:5560 -p 9100:9100 zmqkit \
#       forwarder --frontend 'tcp://*:5559' --backend 'tcp://*:5560' --metrics :9100
#
# Multi-platform (the builder cross-compiles; nothing runs under emulation):
#   docker buildx build --platform linux/amd64,linux/arm64 -t zmqkit .
#
# The build command below is run as written, with TARGETOS and TARGETARCH
# set to the host's, by contrib/k8s's TestDockerfileBuild, which checks that
# the binary it makes is static; the deploy/ manifests are tested against
# that binary. Keep it one RUN line, its output /out/zmqkit.

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false -ldflags='-s -w -buildid=' -o /out/zmqkit ./cmd/zmqkit

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/zmqkit /usr/local/bin/zmqkit
# distroless's nonroot user; numeric, so that Kubernetes' runAsNonRoot can
# check it without reading /etc/passwd.
USER 65532:65532
# The ports deploy/ uses: a device's frontend and backend, and --metrics.
EXPOSE 5555 5556 5559 5560 9100
ENTRYPOINT ["/usr/local/bin/zmqkit"]
CMD ["help"]
