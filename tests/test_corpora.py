"""Every corpus reader on a replica of its distribution layout, prepared for real."""
import csv
import json
import os
from collections import Counter

import pytest
import soundfile as sf

from lebench.manifests.corpora import CORPORA, SEED_CORPORA
from lebench.manifests.prepare import prepare
from lebench.manifests.records import read_records
from lebench.manifests.stats import report
from tests import replicas


def test_every_seed_corpus_has_a_reader_and_a_replica():
    assert list(SEED_CORPORA) == list(replicas.BUILDERS)
    assert len(SEED_CORPORA) == 17


@pytest.mark.parametrize("name", list(replicas.BUILDERS))
def test_reader_on_replica(name, tmp_path):
    expected = replicas.BUILDERS[name](tmp_path / "corpus")
    s = prepare(CORPORA[name].read(tmp_path / "corpus"), tmp_path / "out", workers=1,
                progress=False)
    records = list(read_records(s.records))
    assert len(records) == expected.kept == s.kept
    assert dict(Counter(r.gender for r in records)) == expected.genders
    assert len({r.speaker for r in records} - {"unknown"}) == expected.speakers
    assert sum(r.duration for r in records) == pytest.approx(expected.seconds, abs=0.1)
    assert replicas.kinds(s.rejects) == expected.rejects == s.reject_kinds
    if expected.transcripts:
        assert {r.transcript for r in records} - {None} == expected.transcripts
    assert all(r.corpus == name for r in records)
    for r in records:
        info = sf.info(r.audio)
        assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
        assert info.frames == round(r.duration * 16_000)


def test_statistics_report_reproduces_the_seed_columns(tmp_path):
    replicas.mls_french(tmp_path / "mls")
    s = prepare(CORPORA["mls_french"].read(tmp_path / "mls"), tmp_path / "out", workers=1,
                progress=False)
    (row, total) = report(read_records(s.records), "1K")
    assert (row["utterances"], row["utt_m"], row["utt_f"], row["utt_u"]) == (4, 2, 2, None)
    assert (row["speakers"], row["spk_m"], row["spk_f"], row["spk_u"]) == (2, 1, 1, None)
    assert row["duration"] == pytest.approx(8.0) and row["mean_s_f"] == pytest.approx(2.0)
    assert (row["speech_type"], row["licence"]) == ("read", "CC-BY-4.0")
    assert total["corpus"] == "total 1K" and total["utterances"] == 4


def test_voxpopuli_long_recording_is_cut_in_its_silence(tmp_path):
    replicas.voxpopuli_unlabelled(tmp_path / "vp")
    s = prepare(CORPORA["voxpopuli_unlabelled"].read(tmp_path / "vp"), tmp_path / "out",
                workers=1, progress=False)
    pieces = sorted(r.duration for r in read_records(s.records) if "fr_3" in r.id)
    assert len(pieces) == 2 and 25.0 <= pieces[1] <= 26.0  # cut inside the 25-26 s gap


def test_interrupted_prepare_resumes_without_redoing_finished_inputs(tmp_path, monkeypatch):
    import lebench.manifests.prepare as prep
    replicas.att_hack(tmp_path / "ah")  # 5 inputs: 2 kept, 3 rejected
    monkeypatch.setattr(prep, "BLOCK", 2)

    def interrupted(items, after):
        for i, item in enumerate(items):
            if i == after:
                raise KeyboardInterrupt
            yield item

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        prep.prepare(interrupted(CORPORA["att_hack"].read(tmp_path / "ah"), 4), out, workers=1,
                     progress=False)
    assert not (out / "utterances.jsonl").exists() and not (out / "rejects.tsv").exists()
    journal = (out / ".journal").read_text().splitlines()
    # the first block of two is journalled; the second, in flight when the reader stopped, is redone
    assert sum(line.startswith("D\t") for line in journal) == 2
    torn = "R\tX03_unknown\tsomewhere\tunreadable\thalf-written"  # no D line: redone
    (out / ".journal").write_text("\n".join(journal + [torn]) + "\n")
    finished = {json.loads(line.split("\t", 3)[3])["audio"] for line in journal
                if line.startswith("U\t")}
    stamps = {a: (tmp_path / a).stat().st_mtime_ns for a in finished}
    s = prep.prepare(CORPORA["att_hack"].read(tmp_path / "ah"), out, workers=1, progress=False)
    fresh = prep.prepare(CORPORA["att_hack"].read(tmp_path / "ah"), tmp_path / "fresh",
                         workers=1, progress=False)
    assert s.records.read_text() == fresh.records.read_text().replace("/fresh/", "/out/")
    assert (s.kept, s.reject_kinds) == (fresh.kept, fresh.reject_kinds)
    assert all((tmp_path / a).stat().st_mtime_ns == t for a, t in stamps.items())


def test_prepare_refuses_to_mix_options_in_one_output(tmp_path):
    from lebench.core.errors import UserError
    replicas.gemep(tmp_path / "g")
    prepare(CORPORA["gemep"].read(tmp_path / "g"), tmp_path / "out", workers=1, progress=False)
    with pytest.raises(UserError, match="use the same options or a new output folder"):
        prepare(CORPORA["gemep"].read(tmp_path / "g"), tmp_path / "out", max_duration=10,
                workers=1, progress=False)


def test_compose_writes_manifests_and_stats_compared_with_the_seed(tmp_path):
    from lebench.manifests.compose import compose, in_valid
    from lebench.manifests.compositions import Composition, available, load_composition
    from lebench.manifests.stats import compare, seed_figures
    assert available() == ["14K", "1K", "2.7K", "3K", "7K"]
    assert load_composition("14K").corpora == list(SEED_CORPORA)
    for name in ("mls_french", "epac"):
        replicas.BUILDERS[name](tmp_path / "src" / name)
        prepare(CORPORA[name].read(tmp_path / "src" / name), tmp_path / "prepared" / name,
                workers=1, progress=False)
    counts = compose(load_composition("2.7K"), tmp_path / "prepared", tmp_path / "m",
                     valid_fraction=0.3, seed=7, progress=False)
    lines = (tmp_path / "m" / "valid.tsv").read_text().splitlines()
    root, rows = lines[0], [line.split("\t") for line in lines[1:]]
    for rel, frames in rows:
        assert sf.info(f"{root}/{rel}").frames == int(frames)
    ids = [r.id for name in ("mls_french", "epac")
           for r in read_records(tmp_path / "prepared" / name / "utterances.jsonl")]
    n_valid = sum(in_valid(i, 0.3, 7) for i in ids)
    assert counts == {"train": 7 - n_valid, "valid": n_valid, "rejected": 0} and 0 < n_valid < 7
    # one metadata row per manifest line, for the pretraining task's filter (task.keep)
    by_path = {os.path.relpath(r.audio, root): r for name in ("mls_french", "epac")
               for r in read_records(tmp_path / "prepared" / name / "utterances.jsonl")}
    with open(tmp_path / "m" / "valid.meta.tsv") as f:
        meta = list(csv.DictReader(f, delimiter="\t"))
    assert [(m["corpus"], m["gender"]) for m in meta] == \
        [(by_path[rel].corpus, by_path[rel].gender) for rel, _ in rows]
    with open(tmp_path / "m" / "stats.csv") as f:
        total = list(csv.DictReader(f))[-1]
    assert (total["corpus"], total["utterances"], total["utt_m"], total["utt_f"]) == \
        ("total 2.7K", "7", "4", "3")
    seed = seed_figures()
    assert compare({"corpus": "mls_french", "utterances": 263_055, "utt_m": 124_590,
                    "utt_f": 138_465, "speakers": 178, "spk_m": 80, "spk_f": 98,
                    "duration": 1096 * 3600 + 43 * 60 + 20, "dur_m": 520 * 3600 + 13 * 60,
                    "dur_f": 576 * 3600 + 29 * 60}, seed["mls_french"]) == []
    diffs = compare({"corpus": "mls_french", "utterances": 4, "utt_m": 2, "utt_f": 2,
                     "duration": 8.0}, seed["mls_french"])
    assert "mls_french utterances: prepared 4, seed 263,055 (-263,051)" in diffs
    assert any(d.startswith("mls_french duration: prepared 0:00, seed 1,096:43") for d in diffs)
    with pytest.raises(Exception, match="not prepared under"):
        compose(Composition("x", ["mls_french", "tcof"]), tmp_path / "prepared", tmp_path / "x")


def test_seed_compositions_are_the_sums_of_their_corpora():
    """The seed's composition totals against its own rows: documents where it disagrees."""
    from lebench.manifests.compositions import load_composition
    from lebench.manifests.stats import parse_hmm, seed_figures
    seed = seed_figures()
    gaps = {}
    for name in ("1K", "2.7K", "3K", "7K", "14K"):
        comp = load_composition(name)
        utts = sum(int(seed[c]["utterances"]) for c in comp.corpora)
        secs = sum(parse_hmm(seed[c]["duration"]) for c in comp.corpora)
        gaps[name] = (comp.seed_total["utterances"] - utts,
                      round((parse_hmm(comp.seed_total["duration"]) - secs) / 60))
    # 7K's printed total holds 20,118 utterances and 15 h 29 min more than its rows (and 14K
    # inherits it); every other total is the exact sum of its rows.
    assert gaps == {"1K": (0, 0), "2.7K": (0, 0), "3K": (0, 0), "7K": (20_118, 929),
                    "14K": (20_118, 929)}
