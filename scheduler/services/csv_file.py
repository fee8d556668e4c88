"""Reading a CSV file of patients as staff export it from a spreadsheet: UTF-8 with or without a
byte-order mark, commas or semicolons (Excel in many countries) or tabs, headers in any case.

Every problem with the file as a whole is an InvalidInput that says what to do about it; problems
with single rows are the caller's to report by line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from scheduler.errors import InvalidInput

REQUIRED = ("name", "phone", "timezone", "first", "consent")
OPTIONAL = ("protocol", "language", "external_id")
_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class Row:
    line: int  # where the row ends in the file (1 is the header)
    values: dict[str, str]


def decode(data: bytes) -> str:
    """The text of an uploaded file, or InvalidInput saying how to save it."""
    if not data.strip():
        raise InvalidInput("the file is empty", field="file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            'the file is not UTF-8 text: in the spreadsheet, save it as "CSV UTF-8" and try again',
            field="file",
        ) from None


def rows(text: str) -> Iterator[Row]:
    """The rows of `text` with the header's columns (lower-cased) as keys. InvalidInput for an
    empty file, a missing column, or a file that is not CSV."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise InvalidInput("the file is empty", field="file")
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower().replace(" ", "_") for h in next(reader)]
        _check_header(header)
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line, or a row of empty cells a spreadsheet left behind
            if len(cells) != len(header):
                yield Row(reader.line_num, {"": f"expected {len(header)} columns, found {len(cells)}"})
                continue
            yield Row(reader.line_num, dict(zip(header, cells, strict=True)))
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num} is not readable as CSV ({exc})", field="file") from None


def _check_header(header: Sequence[str]) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if not missing:
        return
    found = ", ".join(h for h in header if h) or "none"
    hint = ""
    if len(header) == 1:
        hint = "; separate the columns with commas or semicolons"
    raise InvalidInput(
        f"missing column(s): {', '.join(missing)} (the first line has: {found}){hint}", field="file"
    )
