"""Audio below everything that reads it (data sources, feature extraction, SE mixtures):
decoding, resampling and probing files, with faults such as truncation raised (`io`),
one-line accounts of what loading resamples and down-mixes (`conversion`), and a
per-process cache of decoded files with fixed-length chunking (`cache`)."""
