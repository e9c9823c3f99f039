"""``lebench_speaker_verification``: train a speaker classifier on the training speakers,
then score a trial list of unseen speakers by the cosine of utterance embeddings.

The embedding is the model's pooled utterance representation (its hidden layer when the
head has one), as x-vector recipes use the layer before the classifier. Trials live in
``<split>.trials``: ``1`` (same speaker) or ``0``, then the two utterances' manifest paths,
tab-separated, as ``lebench trials`` writes them. Scored with EER and minDCF; a split
without trials (valid: the training speakers) is scored as speaker identification.
"""
from __future__ import annotations

import os

import numpy as np
import torch.nn.functional as F
from fairseq.tasks import register_task

from fairseq_ext.tasks.utterance_classification import (
    UtteranceClassificationConfig,
    UtteranceClassificationTask,
)
from lebench.core.errors import UserError
from lebench.core.manifest import read_trials


@register_task("lebench_speaker_verification", dataclass=UtteranceClassificationConfig)
class SpeakerVerificationTask(UtteranceClassificationTask):
    def read_targets(self, split: str, skipped: set[int]) -> list:
        if os.path.isfile(self.trials_path(split)):  # unseen speakers: no class to predict
            return [0] * (len(self.manifest_lines(split)) - len(skipped))
        return super().read_targets(split, skipped)

    def trials_path(self, split: str) -> str:
        return os.path.join(self.cfg.data, f"{split}.trials")

    def kind_of(self, split: str) -> str:
        return "trials" if os.path.isfile(self.trials_path(split)) else "class"

    @property
    def table_name(self) -> str:
        return "asv"

    def describe(self, outputs: list[dict]) -> list[str]:
        """The cosine score of every utterance against the first one."""
        embeddings = [F.normalize(out["embedding"][0].float(), dim=0) for out in outputs]
        return [f"cosine to the first: {float(e @ embeddings[0]):.3f}" for e in embeddings]

    def predictions(self, model, split: str) -> list[dict]:
        """Known speakers (valid): speaker identification. Unseen speakers (a trial list):
        one row per trial, the cosine of the two utterances' embeddings."""
        path = self.trials_path(split)
        if not os.path.isfile(path):
            return super().predictions(model, split)
        embeddings = self.embed(model, split)
        lines = self.manifest_lines(split)
        self.report_missing(split, lines, {line.index for line in lines if line.relative in embeddings})
        speaker = dict(zip((line.relative for line in lines), self.speakers(split)))
        rows = []
        for number, trial in enumerate(read_trials(path), 1):
            a, b = trial.enrol, trial.test
            for item in (a, b):
                if item not in speaker:
                    raise UserError(f"{path}:{number}: {item} is not an utterance of "
                                    f"{split}.tsv; rebuild the trials with `lebench trials`")
            if a in embeddings and b in embeddings:
                rows.append({"enrol": a, "test": b, "enrol_speaker": speaker[a],
                             "test_speaker": speaker[b], "target": trial.target,
                             "score": float(embeddings[a] @ embeddings[b])})
        return rows

    def embed(self, model, split: str) -> dict[str, np.ndarray]:
        """Unit-length embedding per manifest path of the split."""
        lines = self.manifest_lines(split)
        kept = self.dataset_lines(split)
        out = {}
        for sample, output in self.outputs(model, split):
            emb = F.normalize(output["embedding"].float(), dim=-1)
            for idx, e in zip(sample["id"].tolist(), emb):
                out[lines[kept[idx]].relative] = e.numpy()
        return out
