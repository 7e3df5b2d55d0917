"""limits: the bounds srcdiff keeps on hostile or broken input, one home for the numbers.

docs/SAFETY.md explains each limit and the test that checks it. The parser's own bounds are
repeated here (tests/test_hostile.py checks they agree) so parse.py may import this module.
"""

from __future__ import annotations

import math
import os

from srcdiff.errors import SrcdiffError

# Largest real kernel header is ~24 MB (amd dcn_3_2_0_sh_mask.h); a 100 MB one costs ~6 s, 0.5 GB.
MAX_BLOB_BYTES = 32 * 1024 * 1024
# Lets a user read a bigger file on purpose (value in MiB); a limit, not a policy.
MAX_BLOB_ENV = "SRCDIFF_MAX_BLOB_MB"

# Structs of the kernel have at most a few hundred members; the parser spends ~30 us per line.
MAX_STRUCT_LINES = 100_000

# Aggregates nested deeper than this become one unparsed member (Python recursion stays safe).
MAX_NESTING = 24
# Member-parsing steps per struct before the rest is reported unparsed.
MAX_MEMBER_STEPS = 4096
# Tokens member-producing macros may emit per struct (stops exponential macro bombs).
MAX_MACRO_TOKENS = 200_000
# Nested macro expansions, and steps (tokens produced plus macros expanded) per expansion, in
# #if's, array sizes and member names: a macro doubling at each of 40 levels stops in ~10 ms.
MAX_EXPANSION_DEPTH = 64
MAX_EXPANSION_TOKENS = 20_000
# Distinct paths looked up (so also files read) while following #include's for one struct
# (a header that includes the world); a path already read or found missing costs nothing.
MAX_INCLUDE_READS = 256

# Characters of source text a warning quotes (a 25 KB member must not become a 25 KB warning).
MAX_QUOTE = 80

# Commit descriptions kept in memory at once (a long history must not hold all of them).
MAX_COMMIT_MEMO = 50_000

# Wall time the fuzz benchmark allows one case before it reports a hang.
FUZZ_CASE_SECONDS = 2.0


class BlobTooLarge(SrcdiffError):
    """A file over the blob size limit; srcdiff does not read it."""

    def __init__(self, what: str, size: int, limit: int):
        super().__init__(
            f"{what} is {human_size(size)}, over the {human_size(limit)} limit on files read; "
            f"not read (set {MAX_BLOB_ENV} to raise it)"
        )
        self.what = what
        self.size = size
        self.limit = limit


def max_blob_bytes() -> int:
    """The blob size limit in bytes: $SRCDIFF_MAX_BLOB_MB MiB when set to a positive number,
    else MAX_BLOB_BYTES."""
    raw = os.environ.get(MAX_BLOB_ENV, "").strip()
    try:
        mib = float(raw)
    except ValueError:
        return MAX_BLOB_BYTES
    return int(mib * 1024 * 1024) if math.isfinite(mib) and mib > 0 else MAX_BLOB_BYTES


def check_blob_size(what: str, size: int) -> None:
    """Raise BlobTooLarge when a file of SIZE bytes (named WHAT in the message) is over the limit."""
    limit = max_blob_bytes()
    if size > limit:
        raise BlobTooLarge(what, size, limit)


def body_too_long(body: str) -> str | None:
    """Warning reason when a struct BODY has more than MAX_STRUCT_LINES lines, else None."""
    n = body.count("\n") + 1
    if n <= MAX_STRUCT_LINES:
        return None
    return f"struct body is {n:,} lines, over the {MAX_STRUCT_LINES:,}-line limit; not parsed"


def quote(text: str, limit: int = MAX_QUOTE) -> str:
    """TEXT for a warning: whitespace runs as one space, cut to LIMIT characters ending in "…"."""
    flat = " ".join(text.split()) if len(text) < 8 * limit else " ".join(text[: 8 * limit].split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def human_size(n: int) -> str:
    """N bytes as a short text: ``512 bytes``, ``3.2 KiB``, ``100.0 MiB``."""
    if n < 1024:
        return f"{n} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}"
    return f"{n:.1f} GiB"  # pragma: no cover - loop always returns
