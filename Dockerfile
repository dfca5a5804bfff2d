# syntax=docker/dockerfile:1
# Worker image for llmix_workers: `docker build -t llmix-workers:0.1.0 .`
# Runs as uid 10001 on a read-only root filesystem; /tmp and the prefork metrics directory are
# meant to be writable volumes (emptyDir in the Helm chart, helm/llmix-workers).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# gcc lets setup.py compile the cache-key walk with mypyc (optional: skipped without a compiler).
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY llmix_workers ./llmix_workers
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels llmix_workers \
    && groupadd --system --gid 10001 llmix \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent llmix \
    && mkdir -p /etc/llmix /run/llmix/metrics \
    && chown 10001:10001 /run/llmix/metrics
COPY settings.toml /etc/llmix/settings.toml
ENV LLMIX_SETTINGS=/etc/llmix/settings.toml \
    LLMIX_TELEMETRY__METRICS_PORT=9808 \
    LLMIX_TELEMETRY__MULTIPROC_DIR=/run/llmix/metrics \
    TMPDIR=/tmp
WORKDIR /tmp
USER 10001:10001
EXPOSE 9808
STOPSIGNAL SIGTERM
ENTRYPOINT ["llmix-workers", "worker"]
