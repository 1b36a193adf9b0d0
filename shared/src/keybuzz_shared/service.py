"""The frame every service runs in: HTTP app, event subscribers, database, Vault, outbox.

A service describes itself with a :class:`ServiceDefinition`; :func:`create_app`
wires it into a Litestar app whose lifespan connects NATS (waiting for it at
start-up), waits for its streams to be provisioned, applies migrations, starts the
subscribers, the outbox relay and the NATS micro service, and undoes all of it in
reverse on shutdown (drain NATS, close pools).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import asyncpg
import msgspec
import uvicorn
from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.types import ControllerRouterHandler
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.micro.service import Service
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from keybuzz_shared import auth, metrics, streams, tracing
from keybuzz_shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from keybuzz_shared.http import EXCEPTION_HANDLERS, JsonRequest
from keybuzz_shared.logs import configure_logging
from keybuzz_shared.micro import MicroEndpoint, start_micro_service
from keybuzz_shared.nats_access import produced_by
from keybuzz_shared.nats_connection import NatsAccess, NatsConnection
from keybuzz_shared.outbox import OutboxRelay
from keybuzz_shared.redrive import RedriveReport, RedriveRequest, redrive
from keybuzz_shared.settings import CommonSettings, load_settings
from keybuzz_shared.streams import stream_for
from keybuzz_shared.tenancy import TenantContext
from keybuzz_shared.uow import UnitOfWork, unit_of_work
from keybuzz_shared.vault import VaultClient

log = logging.getLogger(__name__)

S = TypeVar("S", bound=CommonSettings)
T = TypeVar("T")
STARTUP_WAIT_SECONDS = 120.0
READY_CHECK_TIMEOUT = 2.0
VERSION = "0.1.0"
STOP_STEP_SECONDS = 10.0


@dataclass
class Runtime(Generic[S]):
    """Everything a service's handlers need, created once per process."""

    name: str
    settings: S
    nats: NatsConnection
    vault: VaultClient
    pool: asyncpg.Pool = field(init=False)
    outbox: OutboxRelay = field(init=False)
    micro: Service | None = None
    # Every EventSubscription registers itself here (stream, durable): /metrics reads them.
    subscriptions: list[Any] = field(default_factory=list)
    components: dict[type, object] = field(default_factory=dict)
    ready_checks: Mapping[str, Callable[[Any], Awaitable[bool]]] = field(default_factory=dict)
    # Set when the process cannot go on working (e.g. NATS closed the connection for good):
    # /health turns 503 and ``run`` exits non-zero so the supervisor restarts us.
    failure: str | None = None
    stopping: bool = False
    server: Any = None  # the uvicorn server, told to exit on a fatal failure

    @property
    def streams(self) -> list[str]:
        """The streams it writes to (events, dead letters, replays) or reads from."""
        used = {s.stream for s in self.subscriptions} | {streams.DEAD_LETTER_STREAM}
        return sorted(used | {stream_for(subject) for subject in produced_by(self.name)})

    def fatal(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
            log.error("service cannot continue; exiting", extra={"reason": reason})
        if self.server is not None:
            self.server.should_exit = True

    def provide(self, component: object) -> None:
        """Register a service object (made in an ``on_startup`` hook or at assembly)."""
        self.components[type(component)] = component

    def component(self, kind: type[T]) -> T:
        """The registered object of ``kind``: typed, unlike a look-up by string."""
        found = self.components.get(kind)
        if not isinstance(found, kind):
            raise LookupError(f"no {kind.__name__} registered in the {self.name} runtime")
        return found

    @property
    def nc(self) -> Client:
        return self.nats.client

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream()

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A transaction whose ``uow.emit(event)`` calls are published once it commits."""
        return unit_of_work(self.pool, self.name, self.outbox.wake)


Hook = Callable[[Runtime[Any]], Awaitable[None]]


@dataclass
class ServiceDefinition(Generic[S]):
    name: str
    description: str
    settings_type: type[S]
    migrations: Path | None
    route_handlers: Sequence[ControllerRouterHandler] = ()
    register_subscribers: Callable[[Runtime[S]], None] | None = None
    micro_endpoints: Callable[[Runtime[S]], list[MicroEndpoint]] | None = None
    on_startup: Sequence[Hook] = ()
    on_shutdown: Sequence[Hook] = ()
    # Handler parameter name -> type of a component the runtime provides (Runtime.provide).
    dependencies: Mapping[str, type] = field(default_factory=dict)
    # Extra /ready checks of the service's own dependencies (e.g. the poller's IMAP server).
    ready_checks: Mapping[str, Callable[[Runtime[S]], Awaitable[bool]]] = field(
        default_factory=dict
    )
    # PostgreSQL settings of every pooled connection (e.g. orders' plan_cache_mode).
    database_settings: Mapping[str, str] = field(default_factory=dict)


class ReadyReport(msgspec.Struct, omit_defaults=True):
    status: str
    checks: dict[str, bool]
    # Why a stream or consumer check failed (what an operator must fix).
    reasons: list[str] = msgspec.field(default_factory=list)


async def readiness(runtime: Runtime[Any]) -> ReadyReport:
    connected = runtime.nats.is_connected
    checks = {
        "nats": connected,
        "database": await _bounded(_database_ok(runtime)),
        "vault": await _bounded(runtime.vault.is_ready()),
    }
    reasons: list[str] = []
    if connected:
        stream_problems = await _problems(_stream_problem(runtime, s) for s in runtime.streams)
        consumer_problems = await _problems(s.problem() for s in runtime.subscriptions)
        checks["streams"] = not stream_problems
        checks["consumers"] = not consumer_problems
        reasons = [*stream_problems, *consumer_problems]
    for name, check in runtime.ready_checks.items():
        checks[name] = await _bounded(check(runtime))
    status = "ready" if all(checks.values()) else "not_ready"
    return ReadyReport(status=status, checks=checks, reasons=reasons)


async def _problems(checks: Iterable[Awaitable[str | None]]) -> list[str]:
    """What the checks found; one that fails or times out finds nothing (the server may be
    electing a leader: a definite answer, not a slow one, makes the service not ready)."""

    async def bounded(check: Awaitable[str | None]) -> str | None:
        try:
            return await asyncio.wait_for(check, READY_CHECK_TIMEOUT)
        except Exception:
            return None

    found = await asyncio.gather(*(bounded(check) for check in checks))
    return [problem for problem in found if problem]


async def _stream_problem(runtime: Runtime[Any], stream: str) -> str | None:
    try:
        info = await runtime.js.stream_info(stream)
    except NotFoundError:
        return f"stream {stream} does not exist: provision the streams"
    return streams.problem(info)


async def _database_ok(runtime: Runtime[Any]) -> bool:
    if not hasattr(runtime, "pool"):
        return False
    answer: int = await runtime.pool.fetchval("SELECT 1")
    return answer == 1


async def _bounded(check: Awaitable[bool]) -> bool:
    try:
        return await asyncio.wait_for(check, READY_CHECK_TIMEOUT)
    except Exception:
        return False


def redrive_endpoint(runtime: Runtime[Any]) -> MicroEndpoint:
    async def replay(data: bytes) -> RedriveReport:
        request = msgspec.json.decode(data or b"{}", type=RedriveRequest)
        subjects = {subscription.subject for subscription in runtime.subscriptions}
        return await redrive(runtime.js, runtime.name, request, subjects)

    return MicroEndpoint(
        "redrive",
        replay,
        'replay dead-lettered events to their subject: {"subject"?: "tenant.created", "limit"?: n}',
    )


def health_handlers(runtime: Runtime[Any]) -> list[ControllerRouterHandler]:
    @get(
        "/health",
        operation_id="health",
        tags=["operations"],
        summary="The process is up and able to work",
    )
    async def health() -> Response[dict[str, str]]:
        if runtime.failure is not None:
            body = {"status": "failed", "service": runtime.name, "reason": runtime.failure}
            return Response(body, status_code=503)
        return Response({"status": "ok", "service": runtime.name})

    @get(
        "/ready",
        operation_id="ready",
        tags=["operations"],
        summary="NATS, database and Vault are reachable; its streams and consumers are there",
    )
    async def ready() -> Response[ReadyReport]:
        report = await readiness(runtime)
        return Response(report, status_code=200 if report.status == "ready" else 503)

    return [health, ready]


async def _wait_for(what: str, connect: Callable[[], Awaitable[Any]]) -> Any:
    """Dependencies may start after us (make run starts everything at once)."""
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(STARTUP_WAIT_SECONDS),
        wait=wait_exponential(multiplier=0.2, max=3),
        retry=retry_if_exception_type(Exception),
        reraise=True,
    ):
        with attempt:
            if attempt.retry_state.attempt_number in (2, 10, 30):
                log.info("waiting for %s", what)
            return await connect()


def _component_provider(runtime: Runtime[Any], kind: type[T]) -> Callable[[], T]:
    # A closure, not functools.partial: Litestar reads a partial's remaining
    # parameters from the wrapped function and would ask the request for ``kind``.
    def provide() -> T:
        return runtime.component(kind)

    return provide


def create_app(definition: ServiceDefinition[S], settings: S) -> Litestar:
    async def on_nats_closed() -> None:
        # nats-py gives up on a connection the server closed (e.g. for a max_payload
        # violation) while reconnects are unlimited otherwise: a closed connection
        # outside our own shutdown will never come back.
        if not runtime.stopping:
            runtime.fatal("the NATS connection was closed and will not reconnect")

    runtime: Runtime[S] = Runtime(
        name=definition.name,
        settings=settings,
        nats=NatsConnection(
            settings.nats_servers,
            definition.name,
            on_closed=on_nats_closed,
            access=NatsAccess.from_settings(settings),
        ),
        vault=VaultClient(
            settings.vault_addr,
            token=settings.vault_token,
            cacert=settings.vault_cacert,
            role_id=settings.vault_role_id,
            secret_id=settings.vault_secret_id,
            cache_seconds=settings.vault_cache_seconds,
            cache_size=settings.vault_cache_size,
        ),
        ready_checks=definition.ready_checks,
    )
    if definition.register_subscribers:
        definition.register_subscribers(runtime)
    tracing.configure(definition.name)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            await _start_unless_stopped(definition, runtime, app)
            yield
        finally:
            await _stop(definition, runtime)

    def provide_tenant(request: Request[Any, Any, Any]) -> TenantContext:
        return auth.tenant_context(request, settings)

    return Litestar(
        route_handlers=[
            *health_handlers(runtime),
            metrics.metrics_handler(runtime),
            *definition.route_handlers,
        ],
        lifespan=[lifespan],
        middleware=[metrics.http_middleware(definition.name)],
        plugins=[tracing.http_plugin()],  # outermost: logs of the request carry its trace id
        dependencies={
            "runtime": Provide(lambda: runtime, sync_to_thread=False, use_cache=True),
            "tenant": Provide(provide_tenant, sync_to_thread=False),
            **{
                name: Provide(_component_provider(runtime, kind), sync_to_thread=False)
                for name, kind in definition.dependencies.items()
            },
        },
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_class=JsonRequest,  # bad JSON bodies are 400s (http.py)
        openapi_config=OpenAPIConfig(
            title=f"KeyBuzz {definition.name}",
            version=VERSION,
            description=definition.description,
            path="/schema",
        ),
        state=State({"runtime": runtime}),
        debug=False,
        logging_config=None,  # ours (JSON, redacting) is configured in run()
    )


async def _start_unless_stopped(
    definition: ServiceDefinition[Any], runtime: Runtime[Any], app: Litestar
) -> None:
    """Start-up may wait long for a dependency; SIGTERM/Ctrl-C must still stop us then.

    uvicorn only notes the signal (``should_exit``) until start-up completes, so
    start-up runs as a task we cancel when that flag rises.
    """
    runtime.server = app.state.get("uvicorn_server")
    starting = asyncio.create_task(_start(definition, runtime))
    while not starting.done():
        await asyncio.wait({starting}, timeout=0.2)
        server = app.state.get("uvicorn_server")
        if not starting.done() and server is not None and server.should_exit:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            raise RuntimeError("stopped during start-up")
    starting.result()


async def _connect_nats(runtime: Runtime[Any]) -> None:
    """nats-py retries the first connection forever (max_reconnect_attempts=-1); say so."""
    connecting = asyncio.create_task(runtime.nats.connect())
    while not (await asyncio.wait({connecting}, timeout=5))[0]:
        log.info("waiting for NATS")
    connecting.result()


async def _start(definition: ServiceDefinition[Any], runtime: Runtime[Any]) -> None:
    settings = runtime.settings
    await _connect_nats(runtime)
    # Provisioning (not the service: its NATS user may not) creates them.
    await streams.wait_for_streams(runtime.js, runtime.streams)
    runtime.pool = await _wait_for(
        "PostgreSQL",
        lambda: create_pool(
            settings.database_url,
            max_size=settings.database_pool_size,
            server_settings=definition.database_settings,
        ),
    )
    await apply_migrations(runtime.pool, "keybuzz_shared", SHARED_MIGRATIONS)
    if definition.migrations:
        await apply_migrations(runtime.pool, definition.name, definition.migrations)
    runtime.outbox = OutboxRelay(runtime.pool, definition.name, lambda: runtime.nc)
    # The service's own set-up first: the first event may be delivered as soon as we subscribe.
    for hook in definition.on_startup:
        await hook(runtime)
    for subscription in runtime.subscriptions:
        await subscription.start()
    runtime.outbox.start()
    gc.set_threshold(*GC_THRESHOLDS)
    endpoints = definition.micro_endpoints(runtime) if definition.micro_endpoints else []
    endpoints.append(redrive_endpoint(runtime))
    runtime.micro = await start_micro_service(
        runtime.nc, definition.name, VERSION, definition.description, endpoints
    )
    log.info("service started", extra={"port": settings.http_port})


async def _stop(definition: ServiceDefinition[Any], runtime: Runtime[Any]) -> None:
    """Reverse order: stop taking work, flush the outbox, drain NATS, release resources.

    Consumers and the service's own background work (its ``on_shutdown`` hooks)
    stop first, so the events they commit on their way out are still published
    by the last outbox flush. Each step is bounded so a stuck dependency cannot
    keep the process from exiting.
    """
    runtime.stopping = True
    if runtime.micro:
        await _bounded_step("micro service", runtime.micro.stop())
    for subscription in runtime.subscriptions:
        await _bounded_step(f"consumer {subscription.durable}", subscription.stop())
    for hook in reversed(definition.on_shutdown):
        await _bounded_step(getattr(hook, "__name__", "shutdown hook"), hook(runtime))
    if hasattr(runtime, "outbox"):  # last flush while NATS is still connected
        await _bounded_step("outbox relay", runtime.outbox.stop())
    await _bounded_step("NATS", runtime.nats.close())
    await _bounded_step("Vault client", runtime.vault.aclose())
    if hasattr(runtime, "pool"):
        await _bounded_step("database pool", runtime.pool.close())
    log.info("service stopped")


async def _bounded_step(what: str, step: Awaitable[Any]) -> None:
    try:
        await asyncio.wait_for(step, STOP_STEP_SECONDS)
    except Exception as exc:
        log.warning("shutdown step failed", extra={"step": what, "error": repr(exc)})


# The event loop every service runs on, in production and in the tests
# (keybuzz_devstack.testing's loop factory): named, so that uvicorn never falls back.
EVENT_LOOP = "uvloop"
# The youngest generation collected every 10,000 allocations rather than 700: a service's
# heap (its libraries, its caches) is scanned whole at each third-generation collection,
# ~6 µs of the poller's CPU a stored mail at the default (bench_poller, docs/BENCHMARKS.md).
GC_THRESHOLDS = (10_000, 10, 10)


def run(definition: ServiceDefinition[Any]) -> None:
    """Entry point of ``python -m keybuzz_<service>``."""
    settings = load_settings(definition.settings_type)
    configure_logging(definition.name, settings.log_level)
    app = create_app(definition, settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            lifespan="on",
            loop=EVENT_LOOP,
            timeout_graceful_shutdown=10,
        )
    )
    app.state.uvicorn_server = server
    runtime: Runtime[Any] = app.state.runtime
    try:
        server.run()
    finally:
        tracing.shutdown()  # export the last spans, if an exporter is configured
    if not server.started:
        raise SystemExit(3)  # start-up failed or was interrupted; the log says why
    if runtime.failure is not None:
        raise SystemExit(4)  # could not go on (see the log); the supervisor restarts us
