"""The fairseq plugin: pass this folder as ``common.user_dir``.

fairseq imports only ``tasks/`` and ``models/`` of a user dir, and only on the first import;
criterions, and everything when the package was already imported (installed with
``pip install -e``), are registered here. All names are prefixed ``lebench_``: fairseq
silently keeps the first class registered under a name, so reusing one of its own names
would be ignored without an error.
"""
from fairseq_ext import criterions, models, tasks  # noqa: F401
