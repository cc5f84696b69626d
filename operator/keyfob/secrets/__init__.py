"""Rendering a credential into Secret data in the formats consumers already read."""
