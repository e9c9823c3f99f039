"""The Hydra configs shipped with the package (``CONFIG_DIR``); data only."""
