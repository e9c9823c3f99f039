"""The whole suite on the demo corpus: the six tasks of the benchmark (ASR, SLU, AST, AER,
ASV, SA), every mode, from audio to report rows.

The demo corpus has transcripts, speakers, genders, translations (en, es, pt), concept
annotations and dependency trees (``manifests/demo/build.py``) but no emotion annotation,
so two stand-ins keep the emotion pipelines exercised end to end, and are named as such in
the tables: ``sentence_type`` (statement / question: the same words read with falling or
rising intonation, so only the prosody tells them apart) for categorical AER, and each
utterance's own loudness contour (25 values per second) for continuous AER. Real corpora go
through the same tasks with their readers (``lebench corpora``).

Splits are the corpus's own (``split`` in its metadata): valid and test speakers read
sentences that no training speaker reads, so every task is scored on unseen speakers and
unseen sentences.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import UserError
from lebench.core.files import write_text_atomic
from lebench.core.manifest import read_manifest
from lebench.core.parallel import in_order
from lebench.downstream.results import append_results
from lebench.downstream.run import run
from lebench.downstream.trials import make_trials
from lebench.manifests.fairseq_manifest import split_records, write_manifests
from lebench.manifests.records import read_records

SPLITS = ("train", "valid", "test")  # the corpus's own: 10 / 2 / 4 speakers, 48 / 12 / 24 sentences
LOUDNESS_RATE = 25

DEMO_TARGETS = ("en", "es", "pt", "concepts", "tree")
# Every task runs its config at the demo scale (configs/downstream/scaled/<task>_demo.yaml).
DEMO_SCALE = "scale=demo"


class SuiteTask(NamedTuple):
    config: str               # of configs/downstream
    folder: str               # its data folder under the suite's data root
    overrides: list[str]      # what the demo's data asks of the config


DEMO_TASKS: dict[str, SuiteTask] = {
    "gender": SuiteTask("gender", "speakers", []),
    "emotion": SuiteTask("emotion", "speakers", ["task.label=sentence_type"]),  # a stand-in, see README
    "asr": SuiteTask("asr", "speakers", []),
    "asr-finetune": SuiteTask("asr-finetune", "speakers", []),
    "aer": SuiteTask("aer", "speakers", ["task.dimensions=loudness", f"task.label_rate={LOUDNESS_RATE}"]),
    "asv": SuiteTask("asv", "asv", []),
    "slu": SuiteTask("slu", "speakers", []),
    **{f"ast-fr-{lang}": SuiteTask("ast", "speakers", [f"task.target_lang={lang}"])
       for lang in ("en", "es", "pt")},
    "ast-es-fr": SuiteTask("ast", "ast-es-fr", ["task.source_lang=es", "task.target_lang=fr"]),
    "sa": SuiteTask("sa", "speakers", []),
}


def demo_task(task: str) -> SuiteTask:
    """A suite task at the demo's scale."""
    config, folder, overrides = DEMO_TASKS[task]
    return SuiteTask(config, folder, [DEMO_SCALE, *overrides])


SEQ2SEQ_TASKS = ("slu", "ast-fr-en", "ast-fr-es", "ast-fr-pt", "ast-es-fr", "sa")


def prepare_demo_tasks(records: Path, out: Path, seed: int = 42,
                       spanish_records: Path | None = None) -> Path:
    """Data folders for every demo task under ``out`` (``speakers/`` and ``asv/``, and
    ``ast-es-fr/`` from the Spanish part of the demo corpus when its records are given), in
    the corpus's own split. Nothing already there is rewritten when it is the same."""
    out = Path(out)
    recs = list(read_records(records))
    splits = split_records(recs, {}, seed, by="label:split")
    if sorted(splits) != sorted(SPLITS):
        raise UserError(f"{records}: the demo tasks need the corpus's own splits {', '.join(SPLITS)} "
                        f"(a `split` label), found {', '.join(splits) or 'none'}; rebuild the demo "
                        "corpus with `lebench demo-corpus --force`")
    write_manifests(splits, out / "speakers", labels=("gender", "sentence_type", "ltr", "transcript",
                                                      "speaker", *DEMO_TARGETS), progress=False)
    for split in splits:
        write_loudness(out / "speakers", split)
    # verification: the test speakers are unseen; the others' utterances train and validate
    known = [r for r in recs if r.speaker not in {t.speaker for t in splits["test"]}]
    asv = split_records(known, {"train": 0.9, "valid": 0.1}, seed, stratify="speaker")
    asv["test"] = splits["test"]
    write_manifests(asv, out / "asv", labels=("speaker",), progress=False)
    make_trials(out / "asv", "test", seed=seed)
    if spanish_records is not None:
        spanish = split_records(list(read_records(spanish_records)), {}, seed, by="label:split")
        write_manifests(spanish, out / "ast-es-fr", labels=("fr",), progress=False)
    return out


def write_loudness(data: Path, split: str) -> Path:
    """``<split>.loudness``: RMS level every 40 ms, dB mapped from [-60, 0] to [-1, 1]."""
    hop = SAMPLE_RATE // LOUDNESS_RATE
    lines = []
    for item in read_manifest(data / f"{split}.tsv"):
        wav, _ = sf.read(item.path, dtype="float32")
        n = max(1, math.ceil(len(wav) / hop))
        padded = np.pad(wav, (0, n * hop - len(wav)))
        rms = np.sqrt(np.mean(padded.reshape(n, hop) ** 2, axis=1) + 1e-10)
        level = np.clip(20 * np.log10(rms) / 30 + 1, -1, 1)
        lines.append(" ".join(f"{v:.3f}" for v in level))
    return write_text_atomic(data / f"{split}.loudness", "\n".join(lines) + "\n", unless_same=True)


def suite_tasks(names: list[str]) -> list[str] | None:
    """``names`` checked against the suite (None: every task); an unknown one is a UserError."""
    unknown = sorted(set(names) - set(DEMO_TASKS))
    if unknown:
        raise UserError(f"unknown task(s) {unknown}; the suite has {', '.join(DEMO_TASKS)}")
    return list(names) or None


# "fine-tuned on another task first": these tasks also run on the ASR-fine-tuned upstreams
AFTER_ASR = ("gender", "emotion")


def run_suite(data_root: Path, upstreams: dict[str, str], out: Path, store: Path,
              tasks: list[str] | None = None, cache: Path | None = None, seeds=(1,),
              extra_overrides: list[str] = (), quiet: bool = True, jobs: int = 1,
              only: dict[str, tuple[str, ...]] | None = None) -> list:
    """Every task for every upstream (``name -> spec``), or the tasks ``only`` names for an
    upstream; MFB cannot be fine-tuned, so its ``asr-finetune`` is skipped. The upstreams
    exported by ``asr-finetune`` then run the ``AFTER_ASR`` tasks as ``NAME+asr``.
    ``extra_overrides`` go to every task (tests shorten the schedules with them). ``jobs``
    runs train side by side; the store gets their results in the same order as one at a time.
    Returns the results, also appended to ``store``."""
    tasks = tasks or list(DEMO_TASKS)

    def one(job: tuple[str, str, str]) -> list:
        task, name, spec = job
        config, folder, overrides = demo_task(task)
        return run(config, Path(data_root) / folder, spec, name, Path(out) / task / name, None,
                   seeds=tuple(seeds), cache=cache, overrides=[*overrides, *extra_overrides],
                   quiet=quiet)

    def run_all(batch: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], list]:
        return {job: append_results(store, done) for job, done in zip(batch, in_order(one, batch, jobs))}

    present = [t for t in tasks if (Path(data_root) / DEMO_TASKS[t][1]).is_dir()]
    for task in sorted(set(tasks) - set(present)):
        print(f"{task}: skipped, no data folder {Path(data_root) / DEMO_TASKS[task][1]} "
              "(ast-es-fr needs the Spanish part of the demo corpus)")
    only = only or {}
    first = run_all([(task, name, spec) for task in present for name, spec in upstreams.items()
                     if not (task == "asr-finetune" and spec == "mfb") and task in only.get(name, (task,))])
    # upstream name -> its ASR-fine-tuned export (first seed)
    exported = {name: done[0].config["exported_upstream"] for (task, name, _), done in first.items()
                if task == "asr-finetune"}
    then = run_all([(task, f"{name}+asr", upstream) for name, upstream in exported.items()
                    for task in AFTER_ASR if task in tasks])
    return [r for done in [*first.values(), *then.values()] for r in done]
