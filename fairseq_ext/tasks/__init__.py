from fairseq_ext.tasks import (  # noqa: F401
                               continuous_emotion,
                               pretraining,
                               speaker_verification,
                               speech_parsing,
                               speech_recognition,
                               speech_translation,
                               spoken_understanding,
                               utterance_classification,
)
