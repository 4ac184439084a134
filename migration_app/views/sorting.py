"""Sortable column headers, as the catalog and the programme's per-owner table draw them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.functional import Promise


@dataclass(frozen=True)
class SortColumn:
    """One sortable column header: what it is called, how it is sorted now, and where a click goes."""

    key: str
    label: str
    aria_sort: str  # "ascending", "descending" or "none", as ARIA and Designsystemet's table expect
    next_sort: str


def sort_columns(columns: Iterable[tuple[str, str | Promise]], key: str | None, descending: bool) -> list[SortColumn]:
    """Headers for ``columns`` (key, label) when the table is sorted by ``key``: a click on the sorted
    column reverses it, a click on another sorts by that one, ascending."""
    headers = []
    for column, label in columns:
        if column == key:
            aria, next_sort = ("descending", column) if descending else ("ascending", f"-{column}")
        else:
            aria, next_sort = "none", column
        headers.append(SortColumn(key=column, label=str(label), aria_sort=aria, next_sort=next_sort))
    return headers
