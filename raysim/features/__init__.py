"""Feature extraction (OpenSMILE, log-mel, SSL, OpenL3) on Ray into a Parquet feature store.

Extractor families live in their own modules (``opensmile_features``, ``logmel``, ``ssl``,
``openl3_features``) and are imported only when their feature set is used.
"""

from raysim.features.base import FEATURE_SETS, resolve_config
from raysim.features.extract import ExtractionSummary, FeatureExtractionError, extract_features
from raysim.features.store import FeatureStore, FeatureStoreError, read_client

__all__ = [
    "FEATURE_SETS",
    "ExtractionSummary",
    "FeatureExtractionError",
    "FeatureStore",
    "FeatureStoreError",
    "extract_features",
    "read_client",
    "resolve_config",
]
