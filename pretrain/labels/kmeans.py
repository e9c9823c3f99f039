"""k-means over frame features, as HuBERT's ``learn_kmeans.py`` and ``dump_km_label.py``.

Learning is scikit-learn's ``MiniBatchKMeans`` with the recipe's settings (k-means++, batch
10000, 20 initialisations, 100 iterations, no early stop on tolerance, no reassignment);
the model is saved with joblib, as the recipe does, so its ``.km`` model files interchange.
Applying is the nearest centroid in torch, on the CPU or a GPU.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lebench.core.errors import UserError
from lebench.core.files import staged


def learn(features: np.ndarray, clusters: int, seed: int) -> object:
    from sklearn.cluster import MiniBatchKMeans

    if len(features) < clusters:
        raise UserError(f"{len(features)} sampled frames for {clusters} clusters; raise --percent "
                        "or lower --clusters")
    km = MiniBatchKMeans(n_clusters=clusters, init="k-means++", max_iter=100, batch_size=10000,
                         tol=0.0, max_no_improvement=100, n_init=20, reassignment_ratio=0.0,
                         compute_labels=False, random_state=seed)
    return km.fit(features)


def save(km: object, path: Path) -> None:
    import joblib

    with staged(path) as tmp:
        joblib.dump(km, tmp)


class Centroids:
    """The nearest of a saved k-means model's centroids, for batches of frames."""

    def __init__(self, path: Path, device: str = "cpu"):
        import joblib

        try:
            km = joblib.load(path)
            centres = np.asarray(km.cluster_centers_, dtype=np.float32)
        except Exception as e:
            raise UserError(f"{path}: not a k-means model ({type(e).__name__}: {e}); delete it and "
                            "run `lebench labels` again") from None
        self.path = path
        self.centres = torch.from_numpy(centres).to(device)
        self.norms = self.centres.pow(2).sum(1)
        self.clusters, self.dim = self.centres.shape

    def __call__(self, features: Tensor) -> Tensor:
        if features.size(1) != self.dim:
            raise UserError(f"{self.path}: k-means of {self.dim}-dimensional features applied to "
                            f"{features.size(1)}-dimensional ones; learn it on this source (another --out)")
        x = features.to(self.centres.device)
        distances = x.pow(2).sum(1, keepdim=True) - 2 * x @ self.centres.T + self.norms
        return distances.argmin(1).cpu()
