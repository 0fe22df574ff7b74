# syntax=docker/dockerfile:1
# The ironlb image: one binary for the controller and the speaker (`ironlb controller|speaker`).
# Build: docker build -t ghcr.io/ironlb/ironlb:0.1.0 .   (the tag follows package.json's version)
#
# Stage 1 compiles the TypeScript (tsc -p tsconfig.build.json) and the N-API addon (node-gyp,
# against this Node's own headers); stage 2 carries only the JavaScript, production
# node_modules and the addon, on the same Node LTS base, as a non-root user.

# Node LTS, kept equal to NODE_VERSION in scripts/setup.sh (checked by test/unit/install-dockerfile.test.ts).
ARG NODE_VERSION=24.21.0
# The multi-platform index digest of node:24.21.0-bookworm-slim, pinning both stages. Change it
# together with NODE_VERSION (test/unit/install-dockerfile.test.ts checks they name the same version).
# Docker Hub is not reachable from the project's build machine, so this digest is taken from two
# independent published records of the tag (September 2026: a `docker buildx imagetools inspect`
# listing, with linux/amd64 sha256:713cfbf4a0ac19f40e1bb9919893e126b74a5c8cf5d0623c9f89515c8f74c6fa
# and linux/arm64 sha256:8d1405ad7696efa6941cb7745c2aa51d02549b900e4a40fdf212a1b5115dd1b9, and
# Docker Hub's tag API). A pull checks the content against the digest, and only Docker's
# official-images pipeline pushes to library/node, so a wrong digest fails the build; it cannot
# substitute other content. Refresh (docs/upgrade.md, "Base image digest"):
#   docker buildx imagetools inspect node:24.21.0-bookworm-slim   (the "Digest:" line)
ARG NODE_DIGEST=sha256:2fe369e969550cde8e867afc3fe370b260140cab4a23d467074295b42163d553

FROM node:${NODE_VERSION}-bookworm-slim@${NODE_DIGEST} AS build
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

FROM node:${NODE_VERSION}-bookworm-slim@${NODE_DIGEST} AS runtime
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
