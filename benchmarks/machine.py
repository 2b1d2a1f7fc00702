"""Shared by the benchmark scripts: what machine this ran on, and writing a section of benchmarks/README.md."""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f", {kb / 2**20:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores, {cpu}{mem}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"


def update_section(name: str, body: str) -> None:
    """Replace the text between <!-- name:start --> and <!-- name:end --> (appended when missing)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    README.write_text(text, encoding="utf-8")


def publish(name: str, heading: str, text: str, write: bool) -> None:
    """Print a benchmark's text and, unless told not to, put it into its section of benchmarks/README.md."""
    print(text)
    if write:
        update_section(name, f"{heading}\n\n{text}")
