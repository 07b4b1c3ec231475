"""CloudWatch metric queries as the AWS API reference describes them, where
moto 5.2.5 differs.

* Dimensions are a set: a ``GetMetricData`` (or ``GetMetricStatistics``)
  query matches a metric whose dimensions are the same name/value pairs in
  any order. moto compares the two lists after ``sorted()``, but its
  ``Dimension.__lt__`` compares a value with a name, so two dimensions given in
  different orders do not match. ``Dimension`` gets an ordering by
  ``(name, value)``.
* Percentile statistics (``p99``, ``p99.9``, ``P50``; the ``Stat`` of a
  ``MetricStat``): moto returns no value for them. A percentile is computed
  over the raw values of the period (nearest rank, as CloudWatch does on
  raw data); periods holding only statistic sets (``StatisticValues``), whose
  raw values are unknown, give no value, as CloudWatch gives none for them.
  The other extended statistics (``tm``, ``wm``, ``tc``, ``ts``, ``pr``,
  ``IQM``) stay unsupported.
"""

from __future__ import annotations

import math
import re
from typing import Any

from moto.cloudwatch.models import Dimension, Statistics

_PERCENTILE = re.compile(r"^[pP](\d{1,2}(?:\.\d+)?|100(?:\.0+)?)$")

_original_get_statistics_for_type = Statistics.get_statistics_for_type


def _dimension_lt(self: Dimension, other: Dimension) -> bool:
    return (self.name or "", self.value or "") < (other.name or "", other.value or "")


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _get_statistics_for_type(self: Statistics, stat: str) -> Any:
    match = _PERCENTILE.match(stat)
    if match is None:
        return _original_get_statistics_for_type(self, stat)
    return percentile(list(self.metric_single_values_list), float(match.group(1)))


def install() -> None:
    """Patch moto's CloudWatch models."""
    Dimension.__lt__ = _dimension_lt  # type: ignore[method-assign]
    Statistics.get_statistics_for_type = _get_statistics_for_type  # type: ignore[method-assign]
