import csv
import os

import pytest
import soundfile as sf

from lebench.core.errors import UserError
from lebench.manifests.corpora import generic
from lebench.manifests.prepare import prepare
from lebench.manifests.records import read_records
from lebench.manifests.rejects import Reject
from tests.conftest import write_tone


def lab_corpus(root):
    """A lab's own corpus: mixed formats and rates, a metadata table, and bad entries."""
    write_tone(root / "spk1" / "a.flac", rate=44_100, seconds=2.0, channels=2)
    write_tone(root / "spk1" / "b.wav", rate=22_050, seconds=3.0)
    write_tone(root / "spk2" / "long.wav", rate=16_000, seconds=4.0)
    write_tone(root / "spk2" / "short.wav", rate=16_000, seconds=0.5)
    (root / "spk2" / "corrupt.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    rows = [
        ["path", "speaker", "gender", "transcript", "start", "end", "emotion"],
        ["spk1/a.flac", "spk1", "f", "bonjour", "", "", "joy"],
        ["spk1/b.wav", "spk1", "femme", "salut", "", "", "anger"],
        ["spk2/long.wav", "spk2", "M", "premier", "0.5", "2.0", "joy"],
        ["spk2/long.wav", "spk2", "M", "hors champ", "3.0", "5.0", "joy"],
        ["spk2/short.wav", "spk2", "M", "court", "", "", "joy"],
        ["spk2/corrupt.wav", "spk2", "M", "abîmé", "", "", "joy"],
        ["spk2/missing.wav", "spk2", "M", "absent", "", "", "joy"],
        ["spk1/b.wav", "spk1", "X", "code inconnu", "", "", "joy"],
    ]
    with open(root / "metadata.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return root


def test_generic_reader_maps_columns_and_rejects_unknown_gender(tmp_path):
    items = list(generic("lab", licence="CC-BY-4.0").read(lab_corpus(tmp_path / "lab")))
    rejects = [i for i in items if isinstance(i, Reject)]
    assert len(items) == 8 and len(rejects) == 1
    assert "unknown gender code 'X'" in rejects[0].reason and rejects[0].source.endswith("metadata.csv:9")
    first = items[0]
    assert (first.gender, first.speaker, first.licence, first.labels) == ("F", "spk1", "CC-BY-4.0", {"emotion": "joy"})


def test_prepare_normalises_keeps_segments_and_lists_every_reject(tmp_path):
    s = prepare(generic("lab").read(lab_corpus(tmp_path / "lab")), tmp_path / "out",
                workers=2, progress=False)
    kept = {u.transcript: u for u in read_records(s.records)}
    assert sorted(kept) == ["bonjour", "premier", "salut"]
    assert kept["premier"].duration == pytest.approx(1.5)
    assert kept["premier"].start is None  # the segment is now a file of its own
    for u in kept.values():
        info = sf.info(u.audio)
        assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
    with open(s.rejects) as f:
        reasons = [row["reason"] for row in csv.DictReader(f, delimiter="\t")]
    assert s.rejected == 5 == len(reasons)
    for expected in ("outside the recording", "outside [1.0, 30.0]", "unreadable audio",
                     "file not found", "unknown gender code"):
        assert any(expected in r for r in reasons), expected


def test_prepare_strict_fails_on_any_reject(tmp_path):
    with pytest.raises(UserError, match="rejected"):
        prepare(generic().read(lab_corpus(tmp_path / "lab")), tmp_path / "out", strict=True,
                workers=1, progress=False)


def test_prepare_resumes_without_redecoding(tmp_path):
    corpus = lab_corpus(tmp_path / "lab")
    s1 = prepare(generic().read(corpus), tmp_path / "out", workers=1, progress=False)
    done = {u.audio: sf.info(u.audio) for u in read_records(s1.records)}
    stamps = {a: os.stat(a).st_mtime_ns for a in done}
    s2 = prepare(generic().read(corpus), tmp_path / "out", workers=1, progress=False)
    assert [u.audio for u in read_records(s2.records)] == list(done)
    assert all(os.stat(a).st_mtime_ns == t for a, t in stamps.items())
    assert not list((tmp_path / "out").rglob(".*.partial"))


def test_demo_corpus_shape(demo_corpus, demo_records):
    with open(demo_corpus / "metadata.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 384
    assert sf.info(str(demo_corpus / rows[0]["path"])).samplerate == 22_050
    records = list(read_records(demo_records))
    assert len(records) == 384
    assert {r.gender for r in records} == {"M", "F"}
    assert len({r.speaker for r in records if r.gender == "M"}) == 8
    assert len({r.speaker for r in records if r.gender == "F"}) == 8
    assert {r.labels["sentence_type"] for r in records} == {"statement", "question"}
    assert 10 * 60 < sum(r.duration for r in records) < 20 * 60
    assert {"en", "es", "pt", "concepts", "tree"} <= set(records[0].labels)
    # the Spanish part (speech translation into French) is its own corpus folder
    with open(demo_corpus / "es_fr" / "metadata.csv") as f:
        spanish = list(csv.DictReader(f))
    assert len(spanish) == 2 * 48 + 12 * 2 + 24 * 2 and len({r["speaker"] for r in spanish}) == 4
    first = next(r for r in spanish if r["id"].endswith("_d01_s"))
    assert first["transcript"].startswith("El tren") and first["fr"].startswith("Le train")
    asked = next(r for r in spanish if r["id"].endswith("_d01_q"))
    assert asked["transcript"].startswith("¿El tren") and asked["fr"].endswith(" ?")
    assert sf.info(str(demo_corpus / "es_fr" / first["path"])).duration > 1.0
