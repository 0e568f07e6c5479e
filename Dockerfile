# modelyard as a container image: the server and the worker are one image, chosen by the
# command (`serve`, the default, or `worker`; docker/entrypoint.sh). Slim, runs as a non-root
# user, keeps nothing but scratch files under /data: point it at PostgreSQL, Redis and an
# S3-compatible store with MODELYARD_DATABASE_URL, MODELYARD_REDIS_URL, MODELYARD_STORAGE__*
# (compose.yaml does). Build: docker build -t modelyard .

# The web UI's htmx and uPlot, fetched from the npm registry with their integrity hashes.
FROM node:22-bookworm-slim AS assets
WORKDIR /src
COPY scripts/fetch-assets.sh scripts/fetch-assets.sh
RUN mkdir -p src/modelyard/web/static && bash scripts/fetch-assets.sh

# A wheel of modelyard (with the assets) and of every dependency.
FROM python:3.11-slim-bookworm AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY migrations migrations
COPY src src
COPY --from=assets /src/src/modelyard/web/static/vendor src/modelyard/web/static/vendor
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[all]"

FROM python:3.11-slim-bookworm
# Pango for the weekly report's PDF (WeasyPrint); nothing else beyond Python's own image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --create-home modelyard
COPY --from=wheels /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels "modelyard[all]" && rm -rf /wheels
COPY docker/entrypoint.sh /usr/local/bin/modelyard-entrypoint
USER modelyard
WORKDIR /data
ENV MODELYARD_HOME=/data \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8000 9100
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["modelyard-entrypoint", "healthcheck"]
ENTRYPOINT ["modelyard-entrypoint"]
CMD ["serve"]
