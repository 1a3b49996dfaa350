# pyrepo as an OCI image: `pyrepo serve` in the foreground, its data folder a volume.
#
#   docker build -t pyrepo .            (podman: podman build --format docker -t pyrepo .,
#                                        as the OCI format has no HEALTHCHECK)
#   docker run -d -p 127.0.0.1:8645:8645 -v pyrepo:/var/lib/pyrepo --name pyrepo pyrepo
#
# Where no container registry is reachable, scripts/container-base.sh makes a stand-in for
# the base image from Debian's mirror and the npm registry; pass it as NODE_IMAGE.
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: a clean install from the lock file and the build npm test runs, then production deps only ---
FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles itself when no prebuilt binary can be fetched (a new Node, an
# unusual platform, a network without GitHub): give it a compiler, and node-gyp the Node
# headers that the base image has in /usr/local/include/node (instead of downloading them).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
WORKDIR /src
# Dependencies first, as their own layer: a change to the sources does not install them again.
COPY package.json package-lock.json ./
# npm's download cache outlives the layer, so a changed lock file fetches only what changed.
RUN --mount=type=cache,target=/root/.npm npm ci
COPY tsconfig.json tsconfig.build.json esbuild.config.js ./
COPY src ./src
RUN npm run build
# Production dependencies only, without compiling better-sqlite3 a second time; what its
# compilation needed or left (the SQLite sources, objects, a test extension) is not needed to run.
RUN npm prune --omit=dev \
 && cd node_modules/better-sqlite3 \
 && rm -rf deps src build/Release/obj build/Release/obj.target build/Release/.deps build/Release/*.a build/Release/test_extension.node

# --- runtime: Node, the production node_modules and dist/ ---
FROM ${NODE_IMAGE}
# PYREPO_HOME puts settings, data and logs in the volume; there is no OS keychain in a
# container, so the admin password is kept in config/secrets.json (0600) there too.
# Two malloc arenas and a young generation of at most 2 MB semi-spaces: less memory for the same
# speed (src/shared/heap-limits.ts says why; `pyrepo start` passes the same Node option). A
# NODE_OPTIONS given to `docker run -e` replaces this one: keep --max-semi-space-size=2 in it.
ENV NODE_ENV=production PYREPO_HOME=/var/lib/pyrepo PYREPO_KEYCHAIN=off MALLOC_ARENA_MAX=2 NODE_OPTIONS=--max-semi-space-size=2
# A fixed uid and gid (10001), so that a folder mounted at /var/lib/pyrepo can be given to it.
RUN groupadd --gid 10001 pyrepo \
 && useradd --uid 10001 --gid pyrepo --home-dir /var/lib/pyrepo --no-create-home --shell /usr/sbin/nologin pyrepo \
 && mkdir -p /var/lib/pyrepo \
 && chown pyrepo:pyrepo /var/lib/pyrepo
WORKDIR /opt/pyrepo
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY docker/healthcheck.mjs ./docker/
RUN ln -s /opt/pyrepo/dist/cli/index.js /usr/local/bin/pyrepo && chmod 0755 dist/cli/index.js
USER pyrepo
VOLUME /var/lib/pyrepo
EXPOSE 8645
# `pyrepo serve` finishes the requests in flight on SIGTERM and exits 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/opt/pyrepo/docker/healthcheck.mjs"]
ENTRYPOINT ["pyrepo", "serve", "--host", "0.0.0.0"]
