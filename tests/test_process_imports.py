"""What a process of ours imports only when it is used (keybuzz_shared/__init__.py): each
probe runs in a fresh interpreter, as a service's does."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import keybuzz_shared.service, httpx
before = {name: name in sys.modules for name in ("aiohttp.connector", "rich", "pygments")}
httpx.Client().close()
import aiohttp
aiohttp.ClientTimeout  # its first use executes it, whole
after = "aiohttp.connector" in sys.modules
print(json.dumps({"before": before, "after": after}))
"""


def test_a_service_process_leaves_aiohttp_until_used_and_httpx_cli_out() -> None:
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["before"] == {"aiohttp.connector": False, "rich": False, "pygments": False}
    assert seen["after"] is True
