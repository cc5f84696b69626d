"""The `keyfob` (and `kubectl keyfob`) subcommands that need more than a few lines: status (a table of every
request), preview (read-only), break-glass revoke, and kubectl's rules for reaching a cluster. cli.py parses."""
