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

logger = logging.getLogger(__name__)


class ResilientFileAudioDataset(FileAudioDataset):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bad_files: dict[str, str] = {}

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
