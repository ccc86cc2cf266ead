# The primetime image: a static binary on distroless, non-root.
# docker build --build-arg VERSION=$(git describe --tags --always) -t ghcr.io/primetime-dev/primetime:0.1.0 .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/primetime ./cmd/primetime

# Time zones are compiled into the binary (windows name IANA zones), so the
# static image needs nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/primetime /primetime
USER 65532:65532
EXPOSE 6443 8080
ENTRYPOINT ["/primetime"]
CMD ["serve"]
