"""Rows a build has read but not yet written, kept on disk instead of in memory.

A local build reads the whole archive before it can write a generation (syndicated copies are only
known once every article has been seen). Holding every article record and passage text until then
grew with the archive (~80 KB an article at 10k articles, benchmarks/README.md "Build memory"); now
each row is appended to a JSONL file under the build's `.work/` as it is read, and only its byte
offset stays in memory (8 bytes). Rows are read back by number with `os.pread`, in any order.
"""

from __future__ import annotations

import json
import os
from array import array
from pathlib import Path


class Spill:
    """An append-only JSONL file of dicts, read back by row number."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._out = open(path, "wb")  # noqa: SIM115 - closed by `close`, kept open for the whole build
        self._fd = os.open(path, os.O_RDONLY)
        self._offsets = array("q", [0])
        self._dirty = False

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def add(self, row: dict) -> int:
        """Append a row; returns its number."""
        data = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8", "surrogatepass")
        self._out.write(data)
        self._offsets.append(self._offsets[-1] + len(data))
        self._dirty = True
        return len(self._offsets) - 2

    def get(self, i: int) -> dict:
        return self.range(i, 1)[0]

    def range(self, first: int, count: int) -> list[dict]:
        """Rows first .. first + count - 1, read with one pread."""
        if count <= 0:
            return []
        if self._dirty:
            self._out.flush()
            self._dirty = False
        start = self._offsets[first]
        data = os.pread(self._fd, self._offsets[first + count] - start, start)
        # split on the newline byte: str.splitlines would also cut at U+2028 or U+0085 inside a text
        return [json.loads(line.decode("utf-8", "surrogatepass")) for line in data.split(b"\n")[:-1]]

    def close(self) -> None:
        if not self._out.closed:
            self._out.close()
            os.close(self._fd)

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
