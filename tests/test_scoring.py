"""Scores from predictions on disk: the file format, speaker-level intervals, references that a
training vocabulary never touches, bad files refused with one line, and a results store that
counts every run once, even after a kill in the middle of an append."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import jiwer
import numpy as np
import pytest

from lebench.core.errors import UserError
from lebench.downstream.results import Result, append_results, read_results, table
from lebench.downstream.scoring import (
    check_references,
    read_predictions,
    rescore,
    score_file,
    score_predictions,
    write_predictions,
    write_sidecar,
)
from lebench.manifests.text import normalise


def items(refs, hyps, speakers=None):
    speakers = speakers or [""] * len(refs)
    return [{"id": f"s/{i}.wav", "speaker": s, "reference": r, "hypothesis": h}
            for i, (r, h, s) in enumerate(zip(refs, hyps, speakers))]


def test_round_trip_keeps_raw_text_with_tabs_quotes_and_accents(tmp_path):
    rows = items(['Il a dit "oui"\tpuis « non ».', "L’été à 14 h ?"], ["il a dit oui puis non", ""],
                 ["spk1", "spk2"])
    path = write_predictions(tmp_path / "predictions.test.tsv", "transcript", rows)
    with open(path, encoding="utf-8", newline="") as f:  # any CSV reader gets the same fields
        read = list(csv.DictReader(f, delimiter="\t"))
    assert [dict(r) for r in read] == rows
    assert read_predictions(path, "transcript") == rows
    scores = {s.column: s for s in score_file(path, "transcript")}
    refs, hyps = [normalise(r["reference"]) for r in rows], [normalise(r["hypothesis"]) for r in rows]
    assert scores["wer"].value == pytest.approx(jiwer.wer(refs, hyps))
    assert scores["wer"].resampling == "speakers (2)" and scores["wer"].items == 2


def test_speaker_bootstrap_is_wider_than_the_utterance_one_when_speakers_differ():
    # 4 speakers of 25 utterances: two always right, two always wrong
    speakers = [f"spk{i // 25}" for i in range(100)]
    refs = ["a"] * 100
    hyps = ["a" if i // 25 < 2 else "b" for i in range(100)]
    by_speaker = {s.column: s for s in score_predictions(items(refs, hyps, speakers), "class")}
    by_item = {s.column: s for s in score_predictions(items(refs, hyps), "class")}
    assert by_speaker["accuracy"].value == by_item["accuracy"].value == 0.5
    assert by_speaker["accuracy"].resampling == "speakers (4)"
    assert by_item["accuracy"].resampling == "utterances (100)"
    wide = by_speaker["accuracy"].high - by_speaker["accuracy"].low
    narrow = by_item["accuracy"].high - by_item["accuracy"].low
    assert wide > 2 * narrow and by_speaker["accuracy"].low <= 0.25 and by_speaker["accuracy"].high >= 0.75
    # one speaker, or unknown ones: items are resampled, and the result says so
    assert score_predictions(items(refs, hyps, ["unknown"] * 100), "class")[0].resampling == \
        "utterances (100)"


def test_intervals_bracket_the_value_and_are_reproducible():
    rng = np.random.default_rng(1)
    refs = [str(c) for c in rng.integers(0, 3, 120)]
    hyps = [r if rng.random() < 0.7 else "0" for r in refs]
    speakers = [f"spk{i % 8}" for i in range(120)]
    first = score_predictions(items(refs, hyps, speakers), "class")
    assert first == score_predictions(items(refs, hyps, speakers), "class")  # seeded
    for s in first:
        assert s.low <= s.value <= s.high and s.high - s.low < 0.3


def test_trials_are_resampled_by_speaker_pair_within_target_and_non_target():
    rng = np.random.default_rng(0)
    speakers = ["a", "b", "c", "d"]
    rows = []
    for n in range(200):
        x, y = rng.choice(speakers, 2)
        target = int(x == y)
        rows.append({"enrol": f"{x}/{n}a.wav", "test": f"{y}/{n}b.wav", "enrol_speaker": x,
                     "test_speaker": y, "target": str(target), "score": float(rng.normal(target, 1))})
    scores = {s.column: s for s in score_predictions(rows, "trials")}
    pairs = {tuple(sorted((r["enrol_speaker"], r["test_speaker"]))) for r in rows}
    same = {p for p in pairs if p[0] == p[1]}
    assert scores["eer"].resampling == f"speaker pairs ({len(same)} target, {len(pairs - same)} non-target)"
    assert 0 < scores["eer"].low <= scores["eer"].value <= scores["eer"].high < 1


def test_frames_are_scored_per_dimension_over_all_frames():
    rows = []
    for i, n in enumerate((3, 5, 4)):
        for dim, shift in (("arousal", 0.0), ("valence", 0.5)):
            ref = np.linspace(-1, 1, n) + shift
            rows.append({"id": f"u{i}.wav", "speaker": f"s{i}", "dimension": dim,
                         "reference": " ".join(f"{v:.3f}" for v in ref),
                         "hypothesis": " ".join(f"{v:.3f}" for v in ref + 0.1)})
    scores = {s.column: s for s in score_predictions(rows, "frames")}
    assert set(scores) == {"ccc arousal", "rmse arousal", "ccc valence", "rmse valence"}
    assert scores["rmse valence"].value == pytest.approx(0.1)
    assert scores["ccc arousal"].items == 3 and scores["ccc arousal"].resampling == "speakers (3)"


def test_slu_references_with_words_never_seen_in_training_score_a_perfect_hypothesis_zero(tmp_path):
    from fairseq_ext.tasks.spoken_understanding import SpokenUnderstandingConfig, SpokenUnderstandingTask
    (tmp_path / "train.concepts").write_text("je vais à <lieu> Paris >\nil part <temps-date> demain >\n")
    task = SpokenUnderstandingTask(SpokenUnderstandingConfig(data=str(tmp_path)))
    reference = "Je vais à <lieu> Zanzibar > <temps-date> demain >"  # "zanzibar": not in train
    encoded = task.dictionary.encode_line(" ".join(task.tokens(reference, "test")), add_if_not_exist=False)
    assert task.dictionary.unk() in encoded.tolist()  # the vocabulary cannot write it...
    assert "<unk>" not in task.decode(encoded)        # ...its <unk> is never read as a concept tag
    perfect = "je vais à <lieu> zanzibar > <temps-date> demain >"
    scores = {s.column: s.value for s in score_predictions(items([reference], [perfect]), "concepts")}
    assert scores == {"concept_er": 0.0, "cver": 0.0, "wer": 0.0}  # the old round trip gave 0.33


@pytest.mark.parametrize("kind, content, message", [
    ("transcript", "id\treference\thypothesis\nx\ty\tz\n", "header"),
    ("transcript", "id\tspeaker\treference\thypothesis\na.wav\ts\tle chat\n", ":2: 3 fields"),
    ("transcript", "id\tspeaker\treference\thypothesis\na.wav\ts\tle\tla\na.wav\ts\tle\tle\n",
     ":3: a.wav appears twice"),
    ("transcript", "id\tspeaker\treference\thypothesis\na.wav\ts\t \tle\n", ":2: empty reference"),
    ("trials", "enrol\ttest\tenrol_speaker\ttest_speaker\ttarget\tscore\na\tb\ts\tt\t0\tnan\n",
     ":2: score 'nan' is not a finite number"),
    ("trials", "enrol\ttest\tenrol_speaker\ttest_speaker\ttarget\tscore\na\tb\ts\tt\tyes\t0.3\n",
     ":2: target 'yes'"),
    ("frames", "id\tspeaker\tdimension\treference\thypothesis\nu\ts\ta\t0.1 0.2\t0.1\n",
     ":2: 2 reference values but 1 predicted"),
    ("class", "id\tspeaker\treference\thypothesis\n", "no predictions"),
])
def test_bad_predictions_files_are_refused_with_one_line_naming_the_file(tmp_path, kind, content, message):
    path = tmp_path / "predictions.test.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=message) as e:
        score_file(path, kind)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_predictions_that_do_not_match_their_manifest_are_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "test.tsv").write_text("/audio\ns/0.wav\t16000\ns/1.wav\t16000\n")
    (data / "test.transcript").write_text("Le chat dort.\nIl pleut.\n")
    references = {"manifest": str(data / "test.tsv"), "labels": str(data / "test.transcript")}
    path = write_predictions(tmp_path / "predictions.test.tsv", "transcript",
                             items(["Le chat dort.", "Il pleut."], ["le chat dort", "il pleut"]))
    assert score_file(path, "transcript", references)[0].value == 0.0
    write_sidecar(path, {"kind": "transcript", "references": references,
                         "scores": [s.__dict__ for s in score_file(path, "transcript")]})
    rescored = rescore(path)  # what `lebench score` does: kind and labels from the sidecar
    assert rescored.scores == rescored.stored and rescored.agrees
    edited = items(["Le chien dort.", "Il pleut."], ["le chat dort", "il pleut"])
    write_predictions(path, "transcript", edited)
    with pytest.raises(UserError, match=r"predictions.test.tsv:2: the reference of s/0.wav differs"):
        rescore(path)
    other = items(["Le chat dort."], ["le chat dort"])
    other[0]["id"] = "elsewhere/9.wav"
    write_predictions(path, "transcript", other)
    with pytest.raises(UserError, match=r"elsewhere/9.wav is not an item of .*test.tsv"):
        check_references(path, read_predictions(path, "transcript"), "transcript", references)


def result(metric: str, value: float, run_key: str = "k1", seed: int = 1, **kw) -> Result:
    return Result(task="gender", upstream="MFB", split="test", metric=metric, value=value,
                  low=value - 0.1, high=value + 0.1, seed=seed, run_key=run_key, **kw)


def test_the_store_counts_each_run_once_and_survives_a_torn_append(tmp_path, caplog):
    store = tmp_path / "results.jsonl"
    first = append_results(store, [result("accuracy", 0.8), result("uar", 0.7)])
    # the same run again (a resubmitted element, a second `make demo`): nothing appended
    again = append_results(store, [result("accuracy", 0.8), result("uar", 0.7)])
    assert again == first and len(store.read_text().splitlines()) == 2
    # a kill during an append leaves half a line: reading skips it, the next append sets it aside
    with open(store, "a") as f:
        f.write(json.dumps(result("accuracy", 0.9, run_key="k2", seed=2).__dict__)[:57])
    assert len(read_results(store)) == 2 and "incomplete last line" in caplog.text
    append_results(store, [result("accuracy", 0.9, run_key="k2", seed=2)])
    lines = store.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line) for line in lines)
    assert (tmp_path / "results.jsonl.torn").read_text().count("\n") == 1
    # two seeds: mean ± std over exactly those two, never over duplicates
    header, rows = table(read_results(store))
    assert rows[0][header.index("gender accuracy (%)")] == "85.0 ± 7.1"
    # a malformed line in the middle is an error naming it
    store.write_text(lines[0] + "\n{oops\n" + lines[1] + "\n")
    with pytest.raises(UserError, match=r"results.jsonl:2: not a result line"):
        read_results(store)


def test_a_run_with_other_settings_replaces_the_old_value_in_tables(tmp_path):
    store = tmp_path / "results.jsonl"
    append_results(store, [result("accuracy", 0.6, run_key="old")])
    append_results(store, [result("accuracy", 0.9, run_key="new")])
    header, rows = table(read_results(store))
    assert rows[0][header.index("gender accuracy (%)")].startswith("90.0 [")
    assert Path(store).read_text().count("\n") == 2  # both kept in the store, for the record
