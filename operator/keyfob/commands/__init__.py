"""The `keyfob` subcommands that need more than a few lines: preview and break-glass revoke. cli.py parses."""
