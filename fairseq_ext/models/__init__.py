from fairseq_ext.models import downstream  # noqa: F401 (registers)
