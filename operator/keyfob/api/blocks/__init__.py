"""One module per provider block (the provider-specific part of an AccessKeyProvider spec)."""
