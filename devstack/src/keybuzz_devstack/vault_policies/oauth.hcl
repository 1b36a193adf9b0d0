# oauth: the only writer of tenant credentials; reads the LWA app credentials.
path "secret/data/keybuzz/tenants/+/amazon_spapi" {
  capabilities = ["create", "update", "read"]
}
path "secret/metadata/keybuzz/tenants/+/amazon_spapi" {
  capabilities = ["delete", "read"]
}
path "secret/data/keybuzz/amazon_spapi/app" {
  capabilities = ["read"]
}
path "secret/data/keybuzz/amazon_spapi/app/*" {
  capabilities = ["read"]
}
