"""Feature extraction (OpenSMILE, log-mel, SSL, OpenL3) on Ray into a Parquet feature store.

Extractor families live in their own modules (``opensmile_features``, ``logmel``, ``ssl``,
``openl3_features``), registered in `raysim.registry.FEATURE_EXTRACTORS`, and are
imported only when their feature set is used.
"""

from raysim.features.base import build_extractor, resolve_config
from raysim.features.extract import ExtractionSummary, FeatureExtractionError, extract_features
from raysim.features.store import FeatureStore, FeatureStoreError, read_client

__all__ = [
    "ExtractionSummary",
    "FeatureExtractionError",
    "FeatureStore",
    "FeatureStoreError",
    "build_extractor",
    "extract_features",
    "read_client",
    "resolve_config",
]
