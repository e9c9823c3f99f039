"""French corpus preparation: readers, audio normalisation, records, fairseq manifests."""
