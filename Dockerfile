# redshift-loader worker image (Heroku container stack, Dokku, ECS...), on Node 22 LTS.
# The code also runs on Node 20 (package.json engines), where CI tests it.
#
# The runtime stage holds exactly what `npm pack` publishes (package.json "files": dist/,
# the migrations, prisma.config.ts) plus the runtime dependencies pinned by
# package-lock.json. `npm run pack-check` (run by .ci/run) installs that same tarball with
# --omit=dev into an empty folder and runs --help, migrate and worker from it.
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The workspace package (the Redshift double, a development dependency) must be present for npm ci.
COPY packages/redshift-double/package.json packages/redshift-double/
RUN npm ci --no-audit --no-fund
COPY . .
# prepack builds dist/ (tsc); the tarball is the published file list.
RUN npm pack --pack-destination /tmp \
 && mkdir /pkg \
 && tar -xzf /tmp/redshift-loader-*.tgz -C /pkg --strip-components=1 \
 && cp package-lock.json /pkg/

FROM node:22-bookworm-slim
ENV NODE_ENV=production
# Fewer glibc malloc arenas: compression on libuv's threads otherwise leaves ~15 MiB more
# resident (BENCHMARKS.md, memory).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /pkg ./
# Runtime dependencies only, as locked; no install scripts (none is needed: zstd ships prebuilt).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
USER node
ENTRYPOINT ["node", "dist/src/cli/index.js"]
CMD ["worker"]
