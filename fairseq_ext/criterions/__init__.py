from fairseq_ext.criterions import ccc, ctc, seq2seq, utterance_classification  # noqa: F401 (registers)
