from fairseq_ext.models import downstream, seq2seq  # noqa: F401 (registers)
