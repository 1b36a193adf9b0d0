# poller: reads tenant and app credentials to call SP-API, and the shops' keys to poll
# their messages; never writes them. One pattern over every marketplace's tenant credentials
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
