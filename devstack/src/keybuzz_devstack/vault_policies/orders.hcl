# orders: reads tenant and app credentials to call SP-API, and Fnac/Darty shops' keys to
# read their orders; never writes them.
path "secret/data/keybuzz/tenants/+/amazon_spapi" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/tenants/+/fnac_api" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/tenants/+/darty_api" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/amazon_spapi/app" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/amazon_spapi/app/*" {
  capabilities = ["read"]
}
