# syntax=docker/dockerfile:1
#
# Skein image: the Playground (GraphiQL) built with Node, embedded in a static Go binary,
# run as a non-root user on Alpine.
#
#   docker build -t skein .
#   docker run -p 8080:8080 -v skein-data:/data skein                  # embedded store in /data
#   docker run -p 8080:8080 -e SKEIN_STORE_KIND=neo4j -e SKEIN_NEO4J_URI=bolt://db:7687 \
#              -e SKEIN_NEO4J_PASSWORD=... skein                        # Neo4j
#
# docker-compose.yml runs it next to Neo4j. Build arguments: VERSION (shown by `skein version`).

# --- Playground: web/playground -> internal/server/playground/dist -------------------------
# The bundle is the same on every platform: build it once, on the build machine.
FROM --platform=$BUILDPLATFORM node:22-bookworm-slim AS playground
WORKDIR /src/web/playground
COPY web/playground/package.json web/playground/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY web/playground/ ./
# vite writes to ../../internal/server/playground/dist (see vite.config.js).
RUN npm run build && test -f /src/internal/server/playground/dist/index.html

# --- skein: a static binary (the embedded store is modernc SQLite, pure Go) ---------------
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
COPY --from=playground /src/internal/server/playground/dist/ internal/server/playground/dist/
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/skein ./cmd/skein

# --- runtime ------------------------------------------------------------------------------
# Alpine rather than distroless: busybox wget gives the HEALTHCHECK something to run.
FROM alpine:3.22
RUN apk add --no-cache ca-certificates \
    && addgroup -S -g 10001 skein \
    && adduser -S -D -H -u 10001 -G skein -s /sbin/nologin skein \
    && mkdir /data && chown skein:skein /data
COPY --from=build /out/skein /usr/local/bin/skein
# Settings go through the environment rather than flags in CMD: flags outrank SKEIN_*
# variables, so flags baked in here would silently win over `docker run -e` or compose.
# These two are `skein serve --addr 0.0.0.0:8080 --data-dir /data`.
ENV SKEIN_SERVER_ADDR=0.0.0.0:8080 \
    SKEIN_STORE_DATA_DIR=/data
USER 10001:10001
VOLUME /data
EXPOSE 8080
# Liveness only (/readyz also checks the store). Assumes the port above.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/skein"]
CMD ["serve"]
