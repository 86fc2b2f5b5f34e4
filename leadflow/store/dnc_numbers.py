"""Reading do-not-call list files into blocks, as `dnc_tables` keeps them.

The registries hand out plain text, one number a line: the FTC's US registry and the states'
lists as ten digits (`2015550123`) or area code and number (`201,5550123`), Canada's DNCL as
ten digits. Phones elsewhere in leadflow are E.164 (`+12015550123`), which reads too. Every
one is a NANP number: a block (NPA-NXX, the first six digits) and a line (the last four).

Ten plain digits take the fast path (about 0.5 µs a line); anything else is looked at
closely, and a line that holds no NANP number is counted, with the first few quoted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

LINES = 10_000  # the numbers of one NPA-NXX block
BITMAP_BYTES = LINES // 8
DENSE = BITMAP_BYTES // 2  # from this many numbers on, a bitmap is no larger than a list
EXAMPLES = 5  # invalid lines quoted in the answer
WHAT = "a NANP phone number (2015550123, +12015550123 or 201,5550123)"

_SEPARATORS = str.maketrans("", "", " -.()\t\"'")
_SET = re.compile(rb"[^\x00]")


def valid_block(block: int) -> bool:
    """Whether NPA-NXX can ring: neither the area code nor the exchange starts with 0 or 1."""
    return 200_000 <= block <= 999_999 and (block // 100) % 10 >= 2


def nanp(value: str | bytes | int) -> int | None:
    """The 10-digit NANP number `value` holds (E.164 `+1...`, `1` and ten digits, ten digits,
    or `area code,number`), or None: a number of another country, or none at all."""
    if isinstance(value, int):
        number = value - 10_000_000_000 if 11_000_000_000 <= value < 20_000_000_000 else value
        return number if 0 <= number < 10_000_000_000 and valid_block(number // LINES) else None
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    text = text.strip()
    if "," in text:
        parts = [p.translate(_SEPARATORS) for p in text.split(",")]
        if len(parts) != 2 or len(parts[0]) != 3 or len(parts[1]) != 7:
            return None
        text = parts[0] + parts[1]
    text = text.translate(_SEPARATORS)
    if text.startswith("+1"):
        text = text[2:]
    elif len(text) == 11 and text.startswith("1"):
        text = text[1:]
    if len(text) != 10 or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if valid_block(number // LINES) else None


@dataclass(frozen=True, slots=True)
class Block:
    """One block's numbers as stored: `bits` (dense) or `lines` (sparse), and how many."""

    block: int
    bits: bytes | None
    lines: list[int] | None
    count: int


def encode(block: int, bits: bytes | bytearray) -> Block:
    """The smaller form of a block's bitmap (bit `n` of byte `n // 8` is line n, as
    PostgreSQL's `get_bit` reads it)."""
    count = int.from_bytes(bits, "little").bit_count()
    if count >= DENSE:
        return Block(block, bytes(bits), None, count)
    lines = [
        at.start() * 8 + bit
        for at in _SET.finditer(bits)
        for bit in range(8)
        if bits[at.start()] >> bit & 1
    ]
    return Block(block, None, lines, count)


def bitmap(stored: Block) -> bytearray:
    """A stored block back as a bitmap, to merge it with another."""
    if stored.bits is not None:
        return bytearray(stored.bits)
    bits = bytearray(BITMAP_BYTES)
    for line in stored.lines or ():
        bits[line >> 3] |= 1 << (line & 7)
    return bits


@dataclass
class Reader:
    """Gathers the numbers of a list's lines into block bitmaps, counting what it cannot read.

    `take()` hands over what it holds and starts afresh, so a caller keeps at most the
    blocks of one batch in memory however long the file."""

    blocks: dict[int, bytearray] = field(default_factory=dict)
    lines: int = 0  # lines read, blank ones included
    invalid: int = 0
    examples: list[str] = field(default_factory=list)

    def read(self, lines: Iterable[str | bytes | int]) -> None:
        blocks = self.blocks
        seen = self.lines
        for raw in lines:
            seen += 1
            if type(raw) is bytes:
                digits = raw.strip()
                if len(digits) == 10 and digits.isdigit():
                    number: int | None = int(digits)
                elif not digits:
                    continue
                else:
                    number = nanp(digits)
            elif isinstance(raw, str) and not raw.strip():
                continue
            else:
                number = nanp(raw)
            if number is None:
                self._refuse(seen, raw)
                continue
            block, line = divmod(number, LINES)
            bits = blocks.get(block)
            if bits is None:
                if not valid_block(block):
                    self._refuse(seen, raw)
                    continue
                bits = blocks[block] = bytearray(BITMAP_BYTES)
            bits[line >> 3] |= 1 << (line & 7)
        self.lines = seen

    def take(self) -> dict[int, bytearray]:
        taken, self.blocks = self.blocks, {}
        return taken

    def _refuse(self, at: int, raw: str | bytes | int) -> None:
        self.invalid += 1
        if len(self.examples) < EXAMPLES:
            text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
            text = text.strip()
            shown = text if len(text) <= 40 else text[:40] + "..."
            self.examples.append(f"line {at}: {shown!r} is not {WHAT}")


def split_lines(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """Batches of lines from a file's bytes in chunks (a line may span two chunks)."""
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        if lines:
            yield lines
    if rest:
        yield [rest]
