import importlib
import logging
from argparse import Namespace

import pytest

import fairseq_ext
from fairseq import utils
from fairseq.criterions import CRITERION_REGISTRY
from fairseq.models import MODEL_REGISTRY
from fairseq.tasks import TASK_REGISTRY
from lebench import PLUGIN_DIR
from lebench.errors import UserError
from tests.conftest import write_tone


def test_registers_own_names_next_to_fairseq():
    assert TASK_REGISTRY["lebench_pretraining"].__module__.startswith("fairseq_ext")
    for task in ("utterance_classification", "speaker_verification", "speech_recognition",
                 "continuous_emotion", "spoken_understanding", "speech_translation", "speech_parsing"):
        assert TASK_REGISTRY[f"lebench_{task}"].__module__.startswith("fairseq_ext")
    for model in ("downstream", "seq2seq"):
        assert MODEL_REGISTRY[f"lebench_{model}"].__module__.startswith("fairseq_ext")
    for criterion in ("utterance_classification", "ctc", "ccc", "seq2seq"):
        assert CRITERION_REGISTRY[f"lebench_{criterion}"].__module__.startswith("fairseq_ext")
    # fairseq's own components are untouched
    assert TASK_REGISTRY["audio_pretraining"].__module__ == "fairseq.tasks.audio_pretraining"
    assert MODEL_REGISTRY["wav2vec2"].__module__ == "fairseq.models.wav2vec.wav2vec2"


def test_importing_twice_and_as_user_dir_does_not_collide():
    before = dict(TASK_REGISTRY)
    importlib.reload(fairseq_ext)
    utils.import_user_module(Namespace(user_dir=str(PLUGIN_DIR)))
    utils.import_user_module(Namespace(user_dir=str(PLUGIN_DIR)))
    assert dict(TASK_REGISTRY) == before


def test_resilient_dataset_skips_and_reports_bad_files(tmp_path, caplog):
    from fairseq_ext.data import ResilientFileAudioDataset
    write_tone(tmp_path / "ok.wav")
    write_tone(tmp_path / "hi.wav", rate=44_100)
    (tmp_path / "broken.wav").write_bytes(b"not audio at all")
    manifest = tmp_path / "train.tsv"
    manifest.write_text(f"{tmp_path}\nok.wav\t24000\nhi.wav\t24000\nbroken.wav\t24000\nmissing.wav\t24000\n")
    ds = ResilientFileAudioDataset(str(manifest), sample_rate=16_000, pad=True)
    with caplog.at_level(logging.WARNING):
        items = [ds[i] for i in range(4)]
        batch = ds.collater(items)
    assert items[0]["source"].shape == (24_000,)
    assert [i["source"] is None for i in items] == [False, True, True, True]
    assert batch["net_input"]["source"].shape == (1, 24_000)
    assert set(ds.bad_files) == {str(tmp_path / n) for n in ("hi.wav", "broken.wav", "missing.wav")}
    assert "44100 Hz" in ds.bad_files[str(tmp_path / "hi.wav")]
    assert sum("skipping" in r.message for r in caplog.records) == 3


@pytest.mark.parametrize("content, message", [
    ("", "no utterances"), ("/nonexistent\nx.wav\t10\n", "does not exist"),
    ("{root}\nx.wav 10\n", "expected 'path<TAB>num_samples'"), ("{root}\n\n", "no utterances")])
def test_manifest_check_messages(tmp_path, content, message):
    from fairseq_ext.data import check_manifest
    path = tmp_path / "train.tsv"
    path.write_text(content.format(root=tmp_path))
    with pytest.raises(UserError, match=message):
        check_manifest(str(path))
