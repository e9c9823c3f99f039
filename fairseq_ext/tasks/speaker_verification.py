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

from fairseq_ext.tasks.downstream import Scored
from fairseq_ext.tasks.utterance_classification import (UtteranceClassificationConfig,
                                                        UtteranceClassificationTask)
from lebench.errors import UserError


@register_task("lebench_speaker_verification", dataclass=UtteranceClassificationConfig)
class SpeakerVerificationTask(UtteranceClassificationTask):
    def read_targets(self, split: str, skipped: set[int]) -> list:
        if os.path.isfile(self.trials_path(split)):  # unseen speakers: no class to predict
            return [0] * (len(self.manifest_paths(split)) - len(skipped))
        return super().read_targets(split, skipped)

    def manifest_paths(self, split: str) -> list[str]:
        with open(os.path.join(self.cfg.data, f"{split}.tsv"), encoding="utf-8") as f:
            f.readline()
            return [line.split("\t")[0] for line in f if line.strip()]

    def trials_path(self, split: str) -> str:
        return os.path.join(self.cfg.data, f"{split}.trials")

    @property
    def table_name(self) -> str:
        return "asv"

    def describe(self, outputs: list[dict]) -> list[str]:
        """The cosine score of every utterance against the first one."""
        embeddings = [F.normalize(out["embedding"][0].float(), dim=0) for out in outputs]
        return [f"cosine to the first: {float(e @ embeddings[0]):.3f}" for e in embeddings]

    def evaluate(self, model, split: str) -> Scored:
        path = self.trials_path(split)
        if not os.path.isfile(path):  # known speakers (valid): speaker identification
            return super().evaluate(model, split)
        embeddings = self.embed(model, split)
        labels, scores = [], []
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                label, a, b = line.rstrip("\n").split("\t")
                if a not in embeddings or b not in embeddings:
                    missing = a if a not in embeddings else b
                    raise UserError(f"{path}:{number}: {missing} is not a readable utterance of "
                                    f"{split}.tsv; rebuild the trials with `lebench trials`")
                labels.append(int(label))
                scores.append(float(embeddings[a] @ embeddings[b]))
        return {"eer": ("eer", labels, scores), "mindcf": ("mindcf", labels, scores)}

    def embed(self, model, split: str) -> dict[str, np.ndarray]:
        """Unit-length embedding per manifest path of the split."""
        paths = self.manifest_paths(split)
        self.load_dataset(split)
        source = self.datasets[split].dataset
        kept = [i for i in range(len(paths)) if i not in source.skipped_indices]
        out = {}
        for sample, output in self.outputs(model, split):
            emb = F.normalize(output["embedding"].float(), dim=-1)
            for idx, e in zip(sample["id"].tolist(), emb):
                out[paths[kept[idx]]] = e.numpy()
        return out
