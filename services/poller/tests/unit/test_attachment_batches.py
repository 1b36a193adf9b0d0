"""A page's files go to PostgreSQL in batches bounded by their bytes, not as one array
(PostgreSQL refuses a value over 1 GB, and would hold the whole page's files at once)."""

from __future__ import annotations

from keybuzz_poller.tickets.store import _by_content_size


def test_files_are_batched_by_their_bytes_in_their_order() -> None:
    rows = [
        (f"m{i}", 0, "f", "t", size, b"x" * size, None) for i, size in enumerate([4, 5, 2, 9, 1])
    ]
    batches = list(_by_content_size(rows, most=8))
    assert [[row[0] for row in batch] for batch in batches] == [
        ["m0"],
        ["m1", "m2"],
        ["m3"],
        ["m4"],
    ]


def test_files_without_content_make_one_batch() -> None:
    rows = [(f"m{i}", 0, "f", "t", 0, None, "too large") for i in range(50)]
    assert [len(batch) for batch in _by_content_size(rows, most=8)] == [50]
