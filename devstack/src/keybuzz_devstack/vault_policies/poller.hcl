# poller: reads tenant and app credentials to call SP-API, the shops' keys to read
# their messages and eBay's app (its secret kept once, beside each seller's consent);
# never writes them. One pattern over every marketplace's tenant credentials
# (secret/keybuzz/tenants/<tenantId>/<connector path>), so a new connector needs no edit.
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
