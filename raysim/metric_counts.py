"""How evaluations report metrics that some items cannot have (STOI of a clip too short
once its silence is removed, PESQ under 0.25 s, SDR of a silent estimate).

Such a metric is the mean over the items where it is defined, and beside it the
evaluation reports ``<metric>_defined``, the number of those items, out of ``n_items``.
Tables print both, so a mean over few items is never mistaken for a full one.
"""

from __future__ import annotations

import math

DEFINED_SUFFIX = "_defined"
N_ITEMS = "n_items"


def defined_count(defined: float, total: float) -> str:
    """'98/120 defined' (empty when either count is unknown)."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (defined, total)):
        return ""
    return f"{int(defined)}/{int(total)} defined"
