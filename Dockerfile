# syntax=docker/dockerfile:1
# Two images from one file. Not built on the project's machines (no Docker engine).
# - `services` (the last stage, so the default build): the four services, the shared
#   library and the connectors, and nothing else. The released image
#   (`keybuzz-marketplace`, deploy/k8s): no double, no sandbox, no development tool in it.
# - `development`: the same plus the dev stack's bootstrap job, the sandbox and every
#   connector's double; compose.yaml runs its sandbox and bootstrap from it.
# The sources are bind-mounted for the install only, so neither image keeps a copy of them.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --system --uid 10001 keybuzz
# Containers listen on every interface; compose publishes the ports on 127.0.0.1.
ENV HTTP_HOST=0.0.0.0 SANDBOX_HOST=0.0.0.0

FROM base AS development
RUN --mount=type=bind,source=.,target=/src,rw cd /src && pip install --no-cache-dir -c constraints.txt \
        ./shared ./connectors/* ./devstack ./sandbox ./connectors/*/double \
        ./services/oauth ./services/poller ./services/orders ./services/tenant-sync
USER keybuzz
CMD ["python", "-m", "keybuzz_sandbox"]

FROM base AS services
RUN --mount=type=bind,source=.,target=/src,rw cd /src && pip install --no-cache-dir -c constraints.txt \
        ./shared ./connectors/* \
        ./services/oauth ./services/poller ./services/orders ./services/tenant-sync
# The language model's tables unpacked beside it while the file system may be written:
# each process then maps them (pages shared, reclaimable) rather than holding ~80 MiB of its
# own (keybuzz_shared.ticket_topics.language).
RUN python -c "from keybuzz_shared.ticket_topics import language; language.unpack()"
USER keybuzz
CMD ["python", "-m", "keybuzz_tenant_sync"]
