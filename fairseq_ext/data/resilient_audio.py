"""fairseq's FileAudioDataset, but a bad file is reported and skipped instead of ending the run.

fairseq retries a failed read three times (sleeping), then raises and kills training; one
corrupt file among millions should cost a log line, not a night of GPU time. The collater
already drops items whose ``source`` is None.
"""
from __future__ import annotations

import logging
import os

import numpy as np
import soundfile as sf
import torch
from fairseq.data import FileAudioDataset

from lebench.core.errors import UserError

logger = logging.getLogger(__name__)


class ResilientFileAudioDataset(FileAudioDataset):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bad_files: dict[str, str] = {}

    def keep_lines(self, mask: np.ndarray) -> None:
        """Keep only the manifest lines where ``mask`` (one entry per line) is true."""
        n_lines = len(self.sizes) + len(self.skipped_indices)
        if len(mask) != n_lines:
            raise UserError(f"{len(mask)} metadata rows for a manifest of {n_lines} lines; "
                            "compose the manifests and their metadata again")
        lines = np.setdiff1d(np.arange(n_lines), np.fromiter(self.skipped_indices, np.int64, len(self.skipped_indices)))
        kept = mask[lines]
        self.skipped_indices |= set(lines[~kept].tolist())
        self.fnames = (self.fnames.filter(kept) if hasattr(self.fnames, "filter")
                       else [f for f, k in zip(self.fnames, kept) if k])
        self.sizes = self.sizes[kept]
        self.set_bucket_info(self.num_buckets)

    def path(self, index: int) -> str:
        fn = self.fnames[index]
        fn = fn if isinstance(self.fnames, list) else fn.as_py()
        return os.path.join(self.root_dir, self.text_compressor.decompress(fn))

    def __getitem__(self, index: int) -> dict:
        path = self.path(index)
        try:
            wav, rate = sf.read(path, dtype="float32")
            if rate != self.sample_rate:
                raise ValueError(f"sample rate is {rate} Hz, the task expects {self.sample_rate} Hz")
            if wav.ndim != 1:
                raise ValueError(f"{wav.shape[1]} channels, the task expects mono")
            if not np.isfinite(wav).all():
                raise ValueError("contains NaN or infinite samples")
        except Exception as e:
            if path not in self.bad_files:
                self.bad_files[path] = str(e).splitlines()[0] if str(e) else type(e).__name__
                logger.warning(f"skipping {path}: {self.bad_files[path]} (bad files so far: "
                               f"{len(self.bad_files)}); re-run `lebench prepare` on its corpus")
            return {"id": index, "source": None}
        return {"id": index, "source": self.postprocess(torch.from_numpy(wav), rate)}
