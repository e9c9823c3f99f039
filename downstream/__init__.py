"""Downstream evaluation: upstreams, heads, metrics and result tables."""
