# The metrics-gateway image, built with the README's own set-up command: `npm ci` installs the
# dependencies and builds dist/ (its prepare script). The CI machines have no Docker engine, so the
# image itself is not built there; test/kubernetes-manifests.test.ts checks that every RUN here is a
# README command and that the entrypoint is the file `npm ci` builds.
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
RUN npm ci
# The node image's unprivileged user (uid 1000, as runAsUser in deploy/kubernetes/).
USER node
# HTTP (gateway, /ready, /metrics, APIs) and gRPC (xDS).
EXPOSE 8080 9095
ENTRYPOINT ["node", "/app/dist/app/cli.js"]
