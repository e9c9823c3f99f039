from fairseq_ext.data.labelled_audio import LabelledAudioDataset
from fairseq_ext.data.resilient_audio import ResilientFileAudioDataset
from fairseq_ext.data.manifest_check import check_manifest

__all__ = ["LabelledAudioDataset", "ResilientFileAudioDataset", "check_manifest"]
