"""Plain-text tables: aligned columns, numbers formatted, mean ± std over seeds."""
from __future__ import annotations

import statistics
from typing import Sequence


def mean_std(values: Sequence[float], digits: int = 4) -> str:
    """"m ± s" (sample std over seeds; "m" alone for one value)."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    m = statistics.fmean(values)
    if len(values) == 1:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def format_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """Columns padded to their widest cell; floats with 4 decimals."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    line = lambda row: "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells)])


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)
