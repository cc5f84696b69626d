"""Provider adapters, one subpackage each, all behind the Provider protocol in keyfob.contract; registry.py maps
block names to them. common/ holds what several adapters share (S3 policy rendering, HTTP error mapping)."""
