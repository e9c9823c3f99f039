"""The fairseq plugin: pass this folder as ``common.user_dir``.

fairseq imports only ``tasks/`` and ``models/`` of a user dir, and only on the first import;
criterions, and everything when the package was already imported (installed with
``pip install -e``), are registered here. All names are prefixed ``lebench_``: fairseq
silently keeps the first class registered under a name, so reusing one of its own names
would be ignored without an error. Importing the plugin also applies ``fairseq_fixes``
(atomic checkpoint copies, CPU multi-process training).
"""
from fairseq_ext import criterions, fairseq_fixes, models, tasks  # noqa: F401

fairseq_fixes.apply()
