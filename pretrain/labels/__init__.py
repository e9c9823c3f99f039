"""HuBERT's frame labels: features (MFCC, or a layer of a HuBERT-family model), k-means
learnt on a sample, applied to every utterance of every split, in resumable shards."""
