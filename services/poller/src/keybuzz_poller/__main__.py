"""``python -m keybuzz_poller``: run the poller service; ``--once``: poll due tenants and
shops and exit."""

import argparse

import uvloop
from keybuzz_shared.logs import configure_logging
from keybuzz_shared.service import create_app, run
from keybuzz_shared.settings import load_settings

from keybuzz_poller.bootstrap import poll_due_shops_on_ports, ports_of
from keybuzz_poller.polling.scheduler import poll_due_once
from keybuzz_poller.service import DEFINITION, ONCE_DEFINITION
from keybuzz_poller.settings import PollerSettings


async def run_once() -> int:
    """Every tenant and shop due now, polled once (a CronJob instead of a long-running poller)."""
    settings = load_settings(PollerSettings)
    configure_logging(ONCE_DEFINITION.name, settings.log_level)
    app = create_app(ONCE_DEFINITION, settings)
    async with app.lifespan():  # the frame's start and stop, without serving HTTP
        runtime = app.state.runtime
        ports = ports_of(runtime)
        results = await poll_due_once(runtime, ports.polling, ports.polls)
        shops = await poll_due_shops_on_ports(runtime)
    print(
        f"polled {len(results)} tenants, stored {sum(r.stored for r in results)} messages;"
        f" polled {len(shops)} shops, stored {sum(r.stored for r in shops)} messages",
        flush=True,
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m keybuzz_poller")
    parser.add_argument(
        "--once", action="store_true", help="poll every due tenant and shop once and exit"
    )
    if parser.parse_args().once:
        raise SystemExit(uvloop.run(run_once()))  # the loop the service runs on
    run(DEFINITION)


if __name__ == "__main__":
    main()
