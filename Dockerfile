# Tally: one image for every command (`docker run tally <command>`: start, serve, aggregate,
# rate, sync, deliver, migrate). See docker-compose.yml for a deployment of separate processes.
# The default (last) stage is that image. `--target stripe-fake` builds instead the local
# Stripe-compatible server of the tests (stripe-fake/), which the Tally image does not contain.

FROM node:20-bookworm-slim AS source
WORKDIR /app
# Dependencies first, so that a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .

FROM source AS build
# The Stripe test server is not part of the production build; its sources are dropped too.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf stripe-fake

FROM source AS stripe-fake-build
RUN npm run build:stripe-fake

# The Stripe test server alone (docker-compose's `stripe-fake` profile): its built code, the one
# dependency it imports (decimal.js, through core/money) and package.json (it says ES modules).
FROM node:20-bookworm-slim AS stripe-fake
ENV NODE_ENV=production
WORKDIR /app
COPY --from=stripe-fake-build /app/package.json ./
COPY --from=stripe-fake-build /app/node_modules/decimal.js ./node_modules/decimal.js
COPY --from=stripe-fake-build /app/dist-stripe-fake ./dist-stripe-fake
USER node
EXPOSE 12111
ENTRYPOINT ["node", "dist-stripe-fake/stripe-fake/main.js"]

FROM node:20-bookworm-slim AS tally
# MALLOC_ARENA_MAX: glibc gives every thread that allocates an arena of its own, up to 8 per
# core, and memory freed into one stays there; the embedded ClickHouse's threads, libuv's and
# V8's then hold 80 to 100 MB more under ingest load for no speed (bench/RESULTS.md, README).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    TALLY_DATA_DIR=/var/lib/tally
WORKDIR /app
# Code and dependencies stay owned by root: the process reads them and writes only to the data dir:
# the embedded stores, and with servers for both stores still `tally serve`'s event log (what it
# has acknowledged and not shipped yet), so the data dir is a volume: mount one that outlives the
# container.
COPY --from=build /app /app
RUN mkdir -p /var/lib/tally && chown node:node /var/lib/tally
VOLUME /var/lib/tally
USER node
EXPOSE 8080
ENTRYPOINT ["node", "bin/tally.js"]
CMD ["start"]
