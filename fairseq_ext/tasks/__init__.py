from fairseq_ext.tasks import pretraining, utterance_classification  # noqa: F401 (registers)
