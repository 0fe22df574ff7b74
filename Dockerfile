# syntax=docker/dockerfile:1
# The ironlb image: one binary for the controller and the speaker (`ironlb controller|speaker`).
# Build: docker build -t ghcr.io/ironlb/ironlb:0.1.0 .   (the tag follows package.json's version)
#
# Stage 1 compiles the TypeScript (tsc -p tsconfig.build.json) and the N-API addon (node-gyp,
# against this Node's own headers); stage 2 carries only the JavaScript, production
# node_modules and the addon, on the same Node LTS base, as a non-root user.

# Node LTS, kept equal to NODE_VERSION in scripts/setup.sh (checked by test/unit/install-dockerfile.test.ts).
ARG NODE_VERSION=24.21.0
# The base image's multi-platform index digest, to pin both stages (FROM node:TAG@sha256:...).
# NOT PINNED YET: the digest could not be verified from the build machine (Docker Hub is not
# reachable there; docs/upgrade.md, "Base image digest"). Set it after checking, on a machine that
# reaches Docker Hub:  docker buildx imagetools inspect node:24.21.0-bookworm-slim
# (the "Digest:" line), then make both FROMs node:${NODE_VERSION}-bookworm-slim@sha256:<digest>.
# test/unit/install-dockerfile.test.ts reports the missing pin as a todo until then and checks
# the form of the pin once it is set.

FROM node:${NODE_VERSION}-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The addon is built here, inside the image, never copied from a developer machine.
RUN cd src/native && rm -rf build && node /src/node_modules/node-gyp/bin/node-gyp.js rebuild --nodedir=/usr/local
# The speaker's capability launcher (src/native/ironlb-caps.c).
RUN gcc -O2 -Wall -Werror -o /src/ironlb-caps src/native/ironlb-caps.c
RUN node_modules/.bin/tsc -p tsconfig.build.json \
 && mkdir -p dist/native/build/Release \
 && cp src/native/build/Release/ironlb_native.node dist/native/build/Release/ \
 && cp -r src/dashboard/public dist/dashboard/ \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
LABEL org.opencontainers.image.title="ironlb" \
      org.opencontainers.image.description="Services of type LoadBalancer for bare-metal Kubernetes (Layer 2 and BGP)" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The speaker runs as non-root too: its Pod adds NET_RAW (ARP/NDP raw sockets), NET_BIND_SERVICE
# (BGP on port 179) and SYS_NICE (the owner watch's real-time heartbeat thread), and starts node through ironlb-caps, whose file capabilities (permitted only,
# no effective bit) let it raise what the Pod's bounding set allows into the ambient set.
# setcap is installed for this step only.
COPY --from=build /src/ironlb-caps /usr/local/bin/ironlb-caps
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_raw,cap_net_bind_service,cap_sys_nice=+p /usr/local/bin/ironlb-caps \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/*
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
