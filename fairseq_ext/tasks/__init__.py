from fairseq_ext.tasks import (continuous_emotion, pretraining, speaker_verification,  # noqa: F401
                               speech_recognition, utterance_classification)
