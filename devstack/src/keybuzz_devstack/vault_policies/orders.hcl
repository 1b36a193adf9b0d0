# orders: reads tenant and app credentials to call SP-API; never writes them.
path "secret/data/keybuzz/tenants/+/amazon_spapi" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/amazon_spapi/app" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/amazon_spapi/app/*" {
  capabilities = ["read"]
}
