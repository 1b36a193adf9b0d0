"""``python -m keybuzz_orders``: run the orders service."""

from keybuzz_shared.service import run

from keybuzz_orders.service import DEFINITION


def main() -> None:
    run(DEFINITION)


if __name__ == "__main__":
    main()
