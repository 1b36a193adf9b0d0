# poller: reads tenant and app credentials to call SP-API, the shops' keys to read
# their messages and eBay's app (its secret kept once, beside each seller's consent);
# never writes them (but eBay's user access tokens beside them, below). One pattern over
# every marketplace's tenant credentials (secret/keybuzz/tenants/<tenantId>/<connector
# path>), so a new connector needs no edit.
path "secret/data/keybuzz/tenants/+/+" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/amazon_spapi/app" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/amazon_spapi/app/*" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/ebay/app" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/ebay/app/*" {
  capabilities = ["read"]
}
# eBay's user access token of each seller, kept beside its consent for every process
# (connectors' shared tokens, docs/EBAY.md "Call limits at scale"): written when granted,
# dropped (every version) when eBay refused it.
path "secret/data/keybuzz/tenants/+/ebay_api_token" {
  capabilities = ["create", "update", "read"]
}
path "secret/metadata/keybuzz/tenants/+/ebay_api_token" {
  capabilities = ["delete"]
}
