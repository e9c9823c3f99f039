from fairseq_ext.tasks import (  # noqa: F401
                               continuous_emotion,
                               hubert_pretraining,
                               pretraining,
                               speaker_verification,
                               speech_parsing,
                               speech_recognition,
                               speech_translation,
                               spoken_understanding,
                               utterance_classification,
)
