# oauth: the only writer of tenant credentials; reads the LWA app credentials.
# Every marketplace's credentials sit at secret/keybuzz/tenants/<tenantId>/<connector path>
# (amazon_spapi, fnac_api, darty_api, …): one pattern over them, so a new connector needs
# no policy edit.
# create/update: store them when the seller connects (rotation rewrites them); read: the
# status endpoint checks the credentials behind a CONNECTED connection really exist.
path "secret/data/keybuzz/tenants/+/+" {
  capabilities = ["create", "update", "read"]
}
# Disconnect removes every version (metadata delete), so nothing can be undeleted.
path "secret/metadata/keybuzz/tenants/+/+" {
  capabilities = ["delete"]
}
# The default app and the other app sources (AMAZON_APP_SOURCE).
path "secret/data/keybuzz/amazon_spapi/app" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/amazon_spapi/app/*" {
  capabilities = ["read"]
}
# eBay's app (EBAY_APP_SOURCE): its id, secret and RuName, read when a seller consents.
path "secret/data/keybuzz/ebay/app" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/ebay/app/*" {
  capabilities = ["read"]
}
