# syntax=docker/dockerfile:1
# The ironlb image: one binary for the controller and the speaker (`ironlb controller|speaker`).
# Build: docker build -t ghcr.io/ironlb/ironlb:0.1.0 .   (the tag follows package.json's version)
#
# Stage 1 compiles the TypeScript (tsc -p tsconfig.build.json) and the N-API addon (node-gyp,
# against this Node's own headers); stage 2 carries only the JavaScript, production
# node_modules and the addon, on the same Node LTS base, as a non-root user.

# Node LTS, kept equal to NODE_VERSION in scripts/setup.sh (checked by test/unit/install-dockerfile.test.ts).
ARG NODE_VERSION=24.21.0

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
# Non-root by default (the controller). The speaker's Pod runs it as root with only NET_RAW
# (and NET_BIND_SERVICE for BGP on port 179) through its securityContext.
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
