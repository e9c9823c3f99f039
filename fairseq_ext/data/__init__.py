from fairseq_ext.data.resilient_audio import ResilientFileAudioDataset
from fairseq_ext.data.targets import TargetDataset

__all__ = ["ResilientFileAudioDataset", "TargetDataset"]
