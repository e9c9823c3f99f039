import pytest

from lebench.core.errors import UserError
from lebench.manifests.fairseq_manifest import parse_fractions, split_records, write_manifests
from lebench.manifests.records import Utterance, read_records
from tests.conftest import write_tone


def test_speaker_split_is_deterministic_disjoint_and_stratified(demo_records):
    records = list(read_records(demo_records))
    fr = {"train": 0.625, "valid": 0.125, "test": 0.25}
    a = split_records(records, fr, seed=42, by="speaker", stratify="gender")
    b = split_records(records, fr, seed=42, by="speaker", stratify="gender")
    c = split_records(records, fr, seed=7, by="speaker", stratify="gender")
    assert a == b and a != c
    speakers = {k: {r.speaker for r in v} for k, v in a.items()}
    assert [len(speakers[k]) for k in fr] == [10, 2, 4]
    assert not (speakers["train"] & speakers["test"]) and not (speakers["valid"] & speakers["test"])
    for k in fr:
        genders = [r.gender for r in a[k]]
        assert genders.count("M") == genders.count("F")
    assert sum(len(v) for v in a.values()) == len(records)


def test_manifest_format_and_labels(demo_manifests):
    lines = (demo_manifests / "train.tsv").read_text().splitlines()
    root = lines[0]
    path, frames = lines[1].split("\t")
    import soundfile as sf
    assert sf.info(f"{root}/{path}").frames == int(frames)
    assert len((demo_manifests / "train.gender").read_text().splitlines()) == len(lines) - 1
    assert (demo_manifests / "dict.gender.txt").read_text() == "F 120\nM 120\n"


def _utt(path, uid):
    return Utterance(id=uid, audio=str(path), duration=1.0, speaker="s", gender="F",
                     speech_type="read", corpus="c", licence="x")


def test_bad_audio_fails_and_writes_nothing(tmp_path):
    good = write_tone(tmp_path / "a" / "good.wav")
    stereo = write_tone(tmp_path / "a" / "stereo.wav", channels=2)
    out = tmp_path / "m"
    with pytest.raises(UserError, match=r"stereo\.wav: 2 channels.*--skip-bad"):
        write_manifests({"train": [_utt(good, "g"), _utt(stereo, "s")]}, out, progress=False)
    assert not out.exists()
    write_manifests({"train": [_utt(good, "g"), _utt(stereo, "s")]}, out, skip_bad=True,
                    progress=False)
    assert len((out / "train.tsv").read_text().splitlines()) == 2
    assert "stereo.wav" in (out / "rejects.tsv").read_text()


def test_bad_split_specs():
    assert parse_fractions("train=0.9,valid=0.1") == {"train": 0.9, "valid": 0.1}
    with pytest.raises(UserError):
        parse_fractions("train=0.9,valid=0.2")
    with pytest.raises(UserError):
        parse_fractions("train:1")
    with pytest.raises(UserError, match="no utterances"):
        write_manifests({"train": []}, "/tmp/never", progress=False)
