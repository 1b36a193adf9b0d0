"""``python -m keybuzz_oauth``: run the oauth service."""

from keybuzz_shared.service import run

from keybuzz_oauth.service import DEFINITION


def main() -> None:
    run(DEFINITION)


if __name__ == "__main__":
    main()
