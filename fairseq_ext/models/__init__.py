from fairseq_ext.models import downstream, ils_hubert, seq2seq  # noqa: F401 (registers)
