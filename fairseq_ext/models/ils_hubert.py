"""``lebench_ils_hubert``: ILS-SSL (``lebench.pretrain.ils_hubert``), registered with fairseq.

The model lives with the other models in ``lebench.pretrain``, so that the upstreams and the
conversion read its checkpoints without the plugin; training and fairseq's own loaders
(``load_model_ensemble_and_task``) need it registered, which is this module's only job.
"""
from fairseq.models import register_model

from lebench.pretrain.hubert import ILS_MODEL
from lebench.pretrain.ils_hubert import IlsHubertConfig, IlsHubertModel

register_model(ILS_MODEL, dataclass=IlsHubertConfig)(IlsHubertModel)
