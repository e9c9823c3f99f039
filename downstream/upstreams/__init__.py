"""Upstreams: the models a downstream head reads, one module per format.

``spec.UpstreamSpec`` tells them apart (a ``.pt`` file, a folder, ``mfb``) and loads,
names and fingerprints them; ``base`` says what every upstream returns.
"""
