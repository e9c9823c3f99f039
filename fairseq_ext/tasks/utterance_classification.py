"""``lebench_utterance_classification``: one label per utterance (gender, emotion, speaker...).

Label files ``<split>.<label>`` and the class list ``dict.<label>.txt`` (from the training
split), as written by ``lebench manifest --labels``. Scored with accuracy and UAR.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fairseq.tasks import register_task
from omegaconf import MISSING

from fairseq_ext.data.targets import class_parser, read_label_lines
from fairseq_ext.tasks.downstream import DownstreamTask, DownstreamTaskConfig, vocabulary_path
from lebench.core.errors import UserError


@dataclass
class UtteranceClassificationConfig(DownstreamTaskConfig):
    label: str = field(default=MISSING, metadata={"help": "label name, e.g. gender or emotion"})


@register_task("lebench_utterance_classification", dataclass=UtteranceClassificationConfig)
class UtteranceClassificationTask(DownstreamTask):
    cfg: UtteranceClassificationConfig

    def __init__(self, cfg: UtteranceClassificationConfig, classes: list[str]):
        super().__init__(cfg)
        self.classes = classes

    @classmethod
    def setup_task(cls, cfg: UtteranceClassificationConfig, **kwargs):
        path = vocabulary_path(cfg.data, cfg.label)
        with open(path, encoding="utf-8") as f:
            classes = [line.split()[0] for line in f if line.strip()]
        if len(classes) < 2:
            raise UserError(f"{path}: {len(classes)} class(es); a classifier needs at least 2")
        return cls(cfg, classes)

    @property
    def num_outputs(self) -> int:
        return len(self.classes)

    def read_targets(self, split: str, skipped: set[int]) -> list:
        path = self.label_path(split, self.cfg.label)
        return read_label_lines(path, skipped, class_parser(path, self.classes))

    @property
    def table_name(self) -> str:
        return self.cfg.label

    def describe(self, outputs: list[dict]) -> list[str]:
        lines = []
        for out in outputs:
            probs = out["logits"][0].softmax(-1)
            best = int(probs.argmax())
            lines.append(f"{self.classes[best]} ({100 * float(probs[best]):.1f}%)")
        return lines

    @property
    def reference_label(self) -> str:
        return self.cfg.label

    def decode_outputs(self, output: dict) -> list[str]:
        return [self.classes[best] for best in output["logits"].argmax(-1).tolist()]
