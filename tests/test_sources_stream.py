"""A big export is streamed: reading a ~48 MB JSONL through the build's reader peaks at about the RSS of
reading a 3 MB one (benchmarks/big_export.py measures the 1 GB case). Each read runs in a fresh process;
the bound is on memory only, never on time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
READ = ("import resource, sys; from pathlib import Path; from qa.sources import iter_file\n"
        "p = Path(sys.argv[1]); n = 0\n"
        "for a in iter_file(p, p.name, None, p.parent):\n"
        "    n += 1\n"
        "print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n")
TEXT = ("国家统计局28日发布数据，上半年全国规模以上工业企业实现利润总额3.3万亿元，同比下降16.8%。"
        "其中，6月份利润同比下降8.3%，降幅比5月份收窄4.3个百分点。\n\n统计局工业司首席统计师表示，"
        "工业企业利润恢复态势持续，下一步将继续推动稳增长政策落地见效。") * 6


def _export(path: Path, mb: int) -> int:
    rows = 0
    with open(path, "w", encoding="utf-8") as f:
        while f.tell() < mb * 2**20:
            f.write(json.dumps({"id": f"r{rows}", "title": f"第{rows}篇", "text": f"{rows}号。{TEXT}",
                                "date": "2023-07-28", "source": "新华社"}, ensure_ascii=False) + "\n")
            rows += 1
    return rows


def _peak(path: Path) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", READ, str(path)], capture_output=True, text=True, cwd=ROOT,
                         timeout=1200, check=True).stdout.split()
    return int(out[0]), int(out[1])


def test_a_48_mb_export_reads_in_the_memory_of_a_3_mb_one(tmp_path):
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    rows = _export(small, 3), _export(big, 48)
    (n_small, rss_small), (n_big, rss_big) = _peak(small), _peak(big)
    assert (n_small, n_big) == rows
    assert rss_big - rss_small < 25, f"RSS {rss_small} MB for 3 MB, {rss_big} MB for 48 MB: the reader keeps rows"
