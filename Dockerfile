# One image for edge, worker, realtime and the webhook dispatcher; docker-compose.yml picks the command.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY contracts/package.json contracts/
COPY runtime/package.json runtime/
COPY live/package.json live/
COPY edge/package.json edge/
COPY worker/package.json worker/
COPY realtime/package.json realtime/
COPY webhooks/package.json webhooks/
COPY web/package.json web/
COPY load-tests/package.json load-tests/
RUN npm ci --no-audit --no-fund
COPY . .
RUN if [ -f web/index.html ]; then cd web && ../node_modules/.bin/vite build; fi
ENV NODE_ENV=production
# Not root: the image's own unprivileged user runs every process.
USER node
