# One image for the four services, the sandbox and the bootstrap job (compose.yaml
# picks the module to run). Not built on the project's machines (no Docker engine).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY shared ./shared
COPY connectors ./connectors
COPY devstack ./devstack
COPY sandbox ./sandbox
COPY services ./services
RUN pip install --no-cache-dir ./shared ./connectors/* ./devstack ./sandbox ./connectors/*/double \
        ./services/oauth ./services/poller ./services/orders ./services/tenant-sync \
 && useradd --system --uid 10001 keybuzz
USER keybuzz
# Containers listen on every interface; compose publishes the ports on 127.0.0.1.
ENV HTTP_HOST=0.0.0.0 SANDBOX_HOST=0.0.0.0
CMD ["python", "-m", "keybuzz_tenant_sync"]
