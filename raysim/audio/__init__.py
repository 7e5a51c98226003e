"""Audio below everything that reads it (data sources, feature extraction, SE mixtures):
decoding, resampling and probing files (`io`), and a per-process cache of decoded
files with fixed-length chunking (`cache`)."""
