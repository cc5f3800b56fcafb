# syntax=docker/dockerfile:1
#
# hotline12345 (12345 政务服务便民热线): one image for every service and every CLI command.
#
#   docker build -t hotline12345:0.1.0 .
#   docker run --rm hotline12345:0.1.0                      # `hotline --help`
#   docker run --rm -e AMQP_URI=... hotline12345:0.1.0 serve intake
#
# The container's command is the `hotline` CLI: `serve <service>` runs one service in the
# foreground (one service per container), `migrate` runs before any service starts,
# `demo`, `reconcile` and `dlq list|replay` are operator one-shots. Configuration is by
# environment (AMQP_URI, HOTLINE_DATABASE_URL_TEMPLATE, HOTLINE_SECRET_KEY, ...; see
# shared/default_config.yaml and deploy/README.md).
#
# No HEALTHCHECK here: only the gateway serves HTTP (/health); docker-compose.yml and the
# Kubernetes manifests probe it. The other services have no port to probe.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install the package and its pinned dependencies into a virtualenv -------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/hotline

WORKDIR /src
# Only what the package is built from (the build context also holds .venv, .git, var/, tests).
# pyproject.toml names README.md as the long description; setuptools only warns without it,
# and an image has no use for it.
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY hotline ./hotline
# bench/ is a package (`hotline bench`); its results/ are repository artifacts, not image content.
COPY bench/*.py ./bench/
# Every dependency is pinned in pyproject.toml and ships a manylinux wheel (argon2-cffi,
# greenlet, psutil included), so no compiler is needed. A non-editable install: the image
# does not depend on /src afterwards.
RUN /opt/hotline/bin/pip install . \
 && cd / \
 && /opt/hotline/bin/python -c "from hotline.registry import all_service_classes; all_service_classes()" \
 && /opt/hotline/bin/hotline --help > /dev/null

# --- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="hotline12345" \
      org.opencontainers.image.description="Open-source platform for China's 12345 government service hotline (政务服务便民热线)" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric uid/gid so Kubernetes' runAsNonRoot can verify it and volume ownership is
# predictable across hosts.
RUN groupadd --system --gid 10001 hotline \
 && useradd --system --uid 10001 --gid hotline --home-dir /var/lib/hotline \
            --no-create-home --shell /usr/sbin/nologin hotline \
 && mkdir -p /var/lib/hotline \
 && chown hotline:hotline /var/lib/hotline

COPY --from=build /opt/hotline /opt/hotline

ENV PATH=/opt/hotline/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOTLINE_DATA_DIR=/var/lib/hotline \
    HOTLINE_LOG_FORMAT=json

USER 10001:10001
WORKDIR /var/lib/hotline

# The gateway's HTTP port; it listens on GATEWAY_ADDRESS, which must be 0.0.0.0:8000 in a
# container (the default 127.0.0.1:8000 is unreachable from outside it).
EXPOSE 8000

# `hotline serve` handles SIGTERM itself (nameko's graceful stop: running workers finish,
# unacknowledged messages go back to the queue), and exec form makes it PID 1 so it gets it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["hotline"]
CMD ["--help"]
