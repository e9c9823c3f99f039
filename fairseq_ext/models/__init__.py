from fairseq_ext.models import frozen_probe  # noqa: F401 (registers)
