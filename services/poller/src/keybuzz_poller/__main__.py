"""``python -m keybuzz_poller``: run the poller service."""

from keybuzz_shared.service import run

from keybuzz_poller.service import DEFINITION


def main() -> None:
    run(DEFINITION)


if __name__ == "__main__":
    main()
