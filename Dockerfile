# syntax=docker/dockerfile:1
# Multi-stage build: static authd binary on a slim Debian base (a shell is
# kept so docker-compose can run `authd migrate && authd serve`).

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOOS=linux GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -ldflags="-s -w" -o /out/authd ./cmd/authd

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin authd
COPY --from=build /out/authd /usr/local/bin/authd
USER authd
ENV AUTHD_ADDR=0.0.0.0:8080
EXPOSE 8080
CMD ["authd", "serve"]
