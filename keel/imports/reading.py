"""Streaming reads of other tools' exports: gzip or plain CSV, any delimiter and encoding.

Rows are read one at a time (a file of millions of lines never sits in memory). Problems that
stop the whole file (it is not in the stated encoding, a column the mapping needs is missing, the
compressed stream is cut off) raise :class:`ReadError` with the line; a row that is merely short
is yielded with ``short=True`` so the caller can refuse that one row and go on.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

GZIP_MAGIC = b"\x1f\x8b"

# Some exports hold long free-text cells (work notes); the csv module's default cap is 128 kB.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class ReadError(Exception):
    """The file cannot be read on from ``line`` (1 is the header)."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Row:
    line: int
    cells: list[str]
    short: bool = False  # fewer cells than the header has columns
    last: bool = False  # the final row of the file


class CsvSource:
    """One export file: its header, then its rows, streamed."""

    def __init__(self, path: str | Path, *, encoding: str = "utf-8", delimiter: str = ","):
        self.path = Path(path)
        self.encoding = encoding
        self.delimiter = delimiter
        self.header: list[str] = []
        self.size = self.path.stat().st_size
        self._raw = self.path.open("rb")
        compressed = self._raw.read(2) == GZIP_MAGIC
        self._raw.seek(0)
        self._binary: io.BufferedIOBase = (
            gzip.GzipFile(fileobj=self._raw) if compressed else self._raw
        )
        self._lines = 0  # physical lines decoded so far
        self._reader = csv.reader(self._decoded(), delimiter=delimiter, strict=False)
        self._read_header()

    def _decoded(self) -> Iterator[str]:
        """The file's lines as text, decoded one by one so an error names its line."""
        decode = codecs.getincrementaldecoder(self.encoding)("strict").decode
        for raw in self._binary:
            self._lines += 1
            yield decode(raw)

    def close(self) -> None:
        self._binary.close()
        self._raw.close()

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def position(self) -> int:
        """Bytes of the file read so far (for a progress bar)."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def _next(self) -> list[str] | None:
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except UnicodeDecodeError as exc:
            raise ReadError(
                self._lines,
                _(
                    "the file is not %(encoding)s text (byte 0x%(byte)02x cannot be read); "
                    'state its encoding in the mapping, e.g. encoding = "latin-1"'
                )
                % {"encoding": self.encoding, "byte": exc.object[exc.start]},
            ) from exc
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ReadError(
                self._lines + 1,
                _("the compressed file is cut off or damaged (%(error)s)") % {"error": exc},
            ) from exc
        except csv.Error as exc:
            raise ReadError(
                self._lines, _("not readable as CSV: %(error)s") % {"error": exc}
            ) from exc

    def _read_header(self) -> None:
        cells = self._next()
        if cells is None:
            raise ReadError(1, _("the file is empty"))
        header = [cell.strip().lstrip("\ufeff") for cell in cells]
        while header and header[-1] == "":
            header.pop()  # exports often end every line with empty columns
        # A heading repeated (Jira writes one "Component/s" column per value) is kept: the first
        # keeps the name, the next are "Component/s (2)", "Component/s (3)"…
        seen: dict[str, int] = {}
        for position, name in enumerate(header):
            if name in seen:
                seen[name] += 1
                header[position] = f"{name} ({seen[name]})"
            else:
                seen[name] = 1
        self.header = header

    def require(self, columns: list[str]) -> None:
        """Refuse the file when a column the mapping reads is not in its header."""
        missing = [c for c in columns if c not in self.header]
        if missing:
            raise ReadError(
                1,
                _("missing column %(missing)s (the file has %(header)s)")
                % {
                    "missing": ", ".join(repr(c) for c in missing),
                    "header": ", ".join(repr(c) for c in self.header[:40]),
                },
            )

    def rows(self) -> Iterator[Row]:
        width = len(self.header)
        pending: Row | None = None
        while True:
            cells = self._next()
            if cells is None:
                break
            line = self._reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # a blank line, or one of empty cells only
            if pending is not None:
                yield pending
            pending = Row(line, cells, short=len(cells) < width)
        if pending is not None:
            yield Row(pending.line, pending.cells, pending.short, last=True)
