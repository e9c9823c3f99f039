from fairseq_ext.criterions import utterance_classification  # noqa: F401 (registers)
