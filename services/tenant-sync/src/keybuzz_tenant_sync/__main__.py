"""``python -m keybuzz_tenant_sync``: run the tenant-sync service."""

from keybuzz_shared.service import run

from keybuzz_tenant_sync.service import DEFINITION


def main() -> None:
    run(DEFINITION)


if __name__ == "__main__":
    main()
