from fairseq_ext.criterions import ccc, ctc, utterance_classification  # noqa: F401 (registers)
