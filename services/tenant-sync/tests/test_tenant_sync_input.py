from tenant_sync_support import INTERNAL
import pytest

@pytest.mark.parametrize("payload", [b"[" * 100000, b'{"tenantId": "kbz-001\xff"}', b'{"tenantId": "kbz-001", "x": "\\u0000"}', b'{"tenantId": "kbz-001\\n"}', b"{" * 100000, b'{"tenantId":' * 50000])
async def test_probe(service, payload):
    async with service.client(headers=INTERNAL) as http:
        response = await http.post("/api/v1/tenants/sync", content=payload, headers={"content-type": "application/json"})
    print(payload[:30], response.status_code, response.text[:300])
