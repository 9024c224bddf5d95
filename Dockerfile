# syntax=docker/dockerfile:1
# sip-response-exporter: build with the dev toolchain, run with production dependencies only.
#   docker build -t sip-response-exporter --build-arg REVISION=$(git rev-parse --short HEAD) .
# test/deploy/dockerfile.test.ts performs these steps outside Docker on every CI run.
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS build
# python3, make and g++ let npm ci compile the native UDP batch addon against this Node's own
# headers (nodedir), downloading nothing; only the compiled addon goes into the runtime image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
WORKDIR /src
COPY package.json package-lock.json binding.gyp ./
COPY native/udp_batch.cc ./native/
COPY scripts/build-addon.mjs ./scripts/
RUN npm ci && test -f build/Release/udp_batch.node
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim
# tini as PID 1: forwards SIGTERM and SIGHUP to node and reaps children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/build/Release/udp_batch.node ./build/Release/udp_batch.node
COPY deploy/sip-response-exporter.yml /etc/sip-response-exporter/config.yml
# The capture --demo plays, found beside package.json (docs/demo.md).
COPY demo/lab.pcap ./demo/lab.pcap
COPY LICENSE README.md ./
ARG REVISION=""
ENV NODE_ENV=production \
    SIP_EXPORTER_REVISION=${REVISION}
LABEL org.opencontainers.image.title="sip-response-exporter" \
      org.opencontainers.image.description="Prometheus exporter that counts SIP responses from HEP capture and syslog" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${REVISION}"
# The node image's unprivileged user (uid 1000); every listener uses a port above 1024.
USER node
# metrics and probes; HEP over UDP and TCP; syslog over UDP and TCP; syslog over TLS when enabled
EXPOSE 9467/tcp 9060/udp 9060/tcp 5514/udp 5514/tcp 6514/tcp
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9467/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/src/cli.js"]
CMD ["--config.file=/etc/sip-response-exporter/config.yml"]
