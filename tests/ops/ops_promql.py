"""The metric names a PromQL expression reads, for checking dashboards and rules against what
the services export. Deliberately strict: every identifier that is not PromQL's own vocabulary
counts as a metric name."""

import re

PROMQL_WORDS = frozenset(
    """
    sum min max avg count stddev stdvar topk bottomk quantile count_values group
    by without on ignoring group_left group_right bool and or unless offset
    rate irate increase delta idelta deriv predict_linear resets changes
    histogram_quantile label_values label_replace label_join absent absent_over_time
    time vector scalar clamp clamp_min clamp_max abs ceil floor round sqrt exp ln log2 log10
    sort sort_desc timestamp day_of_week hour minute month year days_in_month
    avg_over_time min_over_time max_over_time sum_over_time count_over_time last_over_time
    quantile_over_time stddev_over_time present_over_time inf nan
    """.split()
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """``metric_names('sum by (le) (rate(x_bucket{a="b"}[5m])) / 2')`` → ``{"x_bucket"}``."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    text = _NUMBER.sub("", text)
    return {word for word in _IDENTIFIER.findall(text) if word not in PROMQL_WORDS}
