# redshift-loader worker image (Heroku container stack, Dokku, ECS...).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
# Fewer glibc malloc arenas: compression on libuv's threads otherwise leaves ~15 MiB more
# resident (BENCHMARKS.md, memory).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
COPY package.json ./
USER node
ENTRYPOINT ["node", "dist/src/cli/index.js"]
CMD ["worker"]
