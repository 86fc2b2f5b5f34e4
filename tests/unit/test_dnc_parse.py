"""Reading the registries' files: every shape a number comes in, the lines that hold none,
and the two forms a block is kept in."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.store.dnc_numbers import (
    DENSE,
    LINES,
    Reader,
    bitmap,
    encode,
    nanp,
    split_lines,
    valid_block,
)


@pytest.mark.parametrize(
    "written",
    [
        "2015550123",
        b"2015550123\r",
        "+12015550123",
        "12015550123",
        "201,5550123",
        '"201","5550123"',
        "(201) 555-0123",
        2015550123,
        12015550123,
    ],
)
def test_each_shape_a_registry_or_a_lead_gives_a_number_in_reads_as_the_same(
    written: str | bytes | int,
) -> None:
    assert nanp(written) == 2015550123


FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "2015550123")  # digits, but not ASCII


@pytest.mark.parametrize(
    "written",
    ["", "abc", "+442071234567", "201555012", "20155501234", "0015550123", "2011550123",
     "201,555012", "20,15550123", "1,2,3", FULLWIDTH],
)  # fmt: skip
def test_what_holds_no_nanp_number_reads_as_none(written: str) -> None:
    assert nanp(written) is None


def test_the_reader_counts_invalid_lines_skips_blank_ones_and_quotes_the_first() -> None:
    reader = Reader()
    reader.read([b"2015550123", b"", b"abc", "0015550123", b"3125550111\r", "  ", b"+44207"])
    assert reader.lines == 7
    assert reader.invalid == 3
    assert reader.examples[0].startswith("line 3: 'abc' is not a NANP phone number")
    assert reader.examples[1].startswith("line 4: '0015550123'")
    blocks = reader.take()
    assert sorted(blocks) == [201555, 312555]
    assert reader.blocks == {} and reader.lines == 7  # taken, the count goes on


def test_a_block_is_kept_as_lines_while_sparse_and_as_a_bitmap_once_dense() -> None:
    reader = Reader()
    reader.read([2015550000 + line for line in range(0, 2 * DENSE, 2)])  # DENSE numbers
    reader.read([3125550007, 3125559999])
    blocks = reader.take()
    dense, sparse = encode(201555, blocks[201555]), encode(312555, blocks[312555])
    assert dense.bits is not None and dense.lines is None and dense.count == DENSE
    assert len(dense.bits) == 1250
    assert sparse.bits is None and sparse.lines == [7, 9999] and sparse.count == 2
    assert bitmap(sparse) == blocks[312555] and bitmap(dense) == blocks[201555]


@given(st.sets(st.integers(0, LINES - 1), max_size=1200))
def test_a_blocks_numbers_survive_either_form(lines: set[int]) -> None:
    reader = Reader()
    reader.read([3055550000 + line for line in lines])
    bits = reader.take().get(305555, bytearray(1250))
    stored = encode(305555, bits)
    assert stored.count == len(lines)
    found = set(stored.lines) if stored.lines is not None else None
    if found is None:
        assert stored.bits is not None
        found = {n for n in range(LINES) if stored.bits[n >> 3] >> (n & 7) & 1}
    assert found == lines


def test_lines_split_across_chunks_join_again() -> None:
    text = b"".join(b"%d\n" % (2015550000 + i) for i in range(1000)) + b"2015559999"
    rng = random.Random(7)
    cuts = sorted(rng.sample(range(1, len(text)), 50))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    lines = [line for batch in split_lines(chunks) for line in batch]
    assert lines == text.split(b"\n")


def test_only_blocks_that_can_ring_are_valid() -> None:
    assert valid_block(201555) and valid_block(999999)
    assert not valid_block(101555) and not valid_block(201055) and not valid_block(201155)
