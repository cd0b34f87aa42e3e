# Tally: one image for every command (`docker run tally <command>`: start, serve, aggregate,
# rate, sync, deliver, migrate). See docker-compose.yml for a deployment of separate processes.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so that a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    TALLY_DATA_DIR=/var/lib/tally
WORKDIR /app
# Code and dependencies stay owned by root: the process reads them and writes only to the data dir
# (used by the embedded stores; with CLICKHOUSE_URL and DATABASE_URL set nothing is written).
COPY --from=build /app /app
RUN mkdir -p /var/lib/tally && chown node:node /var/lib/tally
USER node
EXPOSE 8080
ENTRYPOINT ["node", "bin/tally.js"]
CMD ["start"]
