"""keyfob's benchmark harness (not tests): see bench/README.md."""
