# oauth: the only writer of tenant credentials; reads the LWA app credentials.
# create/update: store the refresh token at the callback; read: the status
# endpoint checks the credentials behind a CONNECTED connection really exist.
path "secret/data/keybuzz/tenants/+/amazon_spapi" {
  capabilities = ["create", "update", "read"]
}
# Disconnect removes every version (metadata delete), so nothing can be undeleted.
path "secret/metadata/keybuzz/tenants/+/amazon_spapi" {
  capabilities = ["delete"]
}
# A Fnac or Darty shop's partner_id, shop_id and key: written when the seller connects it
# (rotation rewrites it), read by the status endpoint, deleted at disconnect.
path "secret/data/keybuzz/tenants/+/fnac_api" {
  capabilities = ["create", "update", "read"]
}
path "secret/data/keybuzz/tenants/+/darty_api" {
  capabilities = ["create", "update", "read"]
}
path "secret/metadata/keybuzz/tenants/+/fnac_api" {
  capabilities = ["delete"]
}
path "secret/metadata/keybuzz/tenants/+/darty_api" {
  capabilities = ["delete"]
}
# The default app and the other app sources (AMAZON_APP_SOURCE).
path "secret/data/keybuzz/amazon_spapi/app" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/amazon_spapi/app/*" {
  capabilities = ["read"]
}
