# tenant-sync: no Amazon credentials at all. The default policy still lets it
# look up its own token, which is what /ready checks.
path "secret/data/keybuzz/tenant-sync/*" {
  capabilities = ["read"]
}
