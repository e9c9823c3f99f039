from fairseq_ext.tasks import (continuous_emotion, pretraining, speaker_verification,  # noqa: F401
                               speech_parsing, speech_recognition, speech_translation,
                               spoken_understanding, utterance_classification)
