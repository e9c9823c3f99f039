"""``lebench_continuous_emotion``: dimensions such as arousal and valence (RECOLA) or
satisfaction (AlloSat) predicted frame by frame.

Each dimension has a label file ``<split>.<dimension>``: per manifest line, the
gold-standard values sampled every ``1 / label_rate`` s from the start of the utterance,
space-separated (``lebench prepare-emotion`` writes them). The model's frames (50 or 100 per
second) are resampled to the label times. Scored with CCC and RMSE over all frames.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from fairseq.tasks import register_task

from fairseq_ext.data.targets import read_label_lines
from fairseq_ext.tasks.downstream import DownstreamTask, DownstreamTaskConfig
from lebench.core.errors import UserError
from lebench.downstream.scoring import parse_values


@dataclass
class ContinuousEmotionConfig(DownstreamTaskConfig):
    dimensions: str = field(default="arousal,valence", metadata={"help": "comma-separated label names"})
    label_rate: float = field(default=25.0, metadata={"help": "gold-standard values per second"})


def to_label_rate(frames: torch.Tensor, n_labels: int) -> torch.Tensor:
    """Resample one utterance's ``T x K`` model frames to ``n_labels`` label times (linear)."""
    return F.interpolate(frames.t()[None], size=n_labels, mode="linear", align_corners=False)[0].t()


@register_task("lebench_continuous_emotion", dataclass=ContinuousEmotionConfig)
class ContinuousEmotionTask(DownstreamTask):
    cfg: ContinuousEmotionConfig
    target_kind = "frames"
    prediction_kind = "frames"

    @classmethod
    def setup_task(cls, cfg: ContinuousEmotionConfig, **kwargs):
        return cls(cfg)

    @property
    def dimensions(self) -> list[str]:
        return [d for d in self.cfg.dimensions.split(",") if d]

    @property
    def num_outputs(self) -> int:
        return len(self.dimensions)

    def read_targets(self, split: str, skipped: set[int]) -> list:
        columns = []
        for dim in self.dimensions:
            path = self.label_path(split, dim)

            def parse(line: str, number: int, path=path):
                return parse_values(line, f"{path}:{number}", "gold standard").astype(np.float32)
            columns.append(read_label_lines(path, skipped, parse))
        out = []
        for i, values in enumerate(zip(*columns)):
            if len({len(v) for v in values}) != 1:
                raise UserError(f"{self.cfg.data}: utterance {i + 1} of {split} has dimensions of "
                                f"different lengths {[len(v) for v in values]}")
            out.append(np.stack(values, 1))
        return out

    @property
    def table_name(self) -> str:
        return "aer"

    def describe(self, outputs: list[dict]) -> list[str]:
        """Each dimension's mean over the utterance."""
        lines = []
        for out in outputs:
            means = out["logits"][0, :int(out["lengths"][0])].mean(0).tolist()
            lines.append(" ".join(f"{d}={v:+.3f}" for d, v in zip(self.dimensions, means)))
        return lines

    def predictions(self, model, split: str) -> list[dict]:
        """One row per utterance and dimension: the raw gold-standard line, and the model's
        frames resampled to the label times."""
        lines = self.manifest_lines(split)
        kept = self.dataset_lines(split)
        references = {d: self.raw_labels(split, d) for d in self.dimensions}
        speakers = self.speakers(split)
        found: dict[int, np.ndarray] = {}
        for sample, out in self.outputs(model, split):
            for index, pred, n_frames, n in zip(sample["id"].tolist(), out["logits"], out["lengths"],
                                                sample["target_lengths"]):
                found[kept[index]] = to_label_rate(pred[:n_frames], int(n)).numpy()
        self.report_missing(split, lines, found)
        return [{"id": lines[i].relative, "speaker": speakers[i], "dimension": d,
                 "reference": references[d][i], "hypothesis": " ".join(f"{v:.6g}" for v in found[i][:, k])}
                for i in sorted(found) for k, d in enumerate(self.dimensions)]
