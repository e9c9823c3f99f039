import logging
import subprocess
import sys

import pytest
from fairseq.criterions import CRITERION_REGISTRY
from fairseq.models import MODEL_REGISTRY
from fairseq.tasks import TASK_REGISTRY

import fairseq_ext  # noqa: F401  registers the plugin's names
from lebench.core.errors import UserError
from lebench.core.paths import PLUGIN_DIR
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


USER_DIR_IMPORTS = r"""
import shutil, sys
from argparse import Namespace
from fairseq import utils
from fairseq.tasks import TASK_REGISTRY
plugin, mode = sys.argv[1], sys.argv[2]
if mode == "package-first":
    import fairseq_ext.tasks.pretraining as p
utils.import_user_module(Namespace(user_dir=plugin))        # what fairseq-hydra-train does
utils.import_user_module(Namespace(user_dir=plugin))        # twice: a second run in-process
import fairseq_ext.tasks.pretraining as p                   # what the library does
assert TASK_REGISTRY["lebench_pretraining"] is p.LebenchPretrainingTask, "two copies of the task"
assert sum(m.endswith("tasks.pretraining") and "fairseq_ext" in m for m in sys.modules) == 1
copy = sys.argv[3] + "/fairseq_ext"
shutil.copytree(plugin, copy)
try:                                                        # another folder of the same name
    utils.import_user_module(Namespace(user_dir=copy))
except ImportError as e:
    print("refused:", e)
"""


@pytest.mark.parametrize("mode", ["user-dir-first", "package-first"])
def test_importing_twice_and_as_user_dir_does_not_collide(mode, tmp_path):
    """In a fresh interpreter, each order: one copy of every class in fairseq's registries,
    and a second plugin folder of the same name refused by fairseq (hence the editable install)."""
    done = subprocess.run([sys.executable, "-c", USER_DIR_IMPORTS, str(PLUGIN_DIR), mode, str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused:" in done.stdout and "not globally unique" in done.stdout


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
    from lebench.core.manifest import check_manifest
    path = tmp_path / "train.tsv"
    path.write_text(content.format(root=tmp_path))
    with pytest.raises(UserError, match=message):
        check_manifest(str(path))
