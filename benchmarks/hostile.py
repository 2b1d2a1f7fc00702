"""Issue 12's attacks on untrusted input, measured again: each runs in its own process (wall time, peak RSS).

    .venv/bin/python benchmarks/hostile.py [--no-write]

Front-matter alias bomb and deep nesting (build and parse), pathological markdown (parse time and how
it grows with 4x the input), links out of the seeds folder, /dev/zero and a FIFO (build outcome),
date filters in ISO forms (CLI), a tampered index (CLI outcome), a full disk (a 3 MB tmpfs, root only).
Writes the "Hostile input" section of benchmarks/README.md. Uses the `hash` model: no attack here
depends on the embedding model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine, update_section  # noqa: E402

SEED = ROOT / "seeds" / "000_e0ddd22777e12010.txt"
BODY = "市政府今天宣布，新的地铁线路将于下个月正式开通，沿线设有十二座车站，预计每天服务八万名乘客。"
QA = [sys.executable, "-m", "qa.cli"]


LAUNCH = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
          "print('maxrss', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
          "sys.exit(r.returncode)")


def run(argv: list[str], timeout: float = 600, **kw) -> tuple[subprocess.CompletedProcess, float, float]:
    """(result, wall seconds, peak RSS MB) of one process, started by a launcher whose only child it is."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", LAUNCH, *argv], capture_output=True, text=True, timeout=timeout,
                         cwd=ROOT, **kw)
    secs = time.perf_counter() - t
    lines = out.stderr.rstrip("\n").split("\n")
    rss = int(lines[-1].split()[1]) / 1024 if lines and lines[-1].startswith("maxrss ") else float("nan")
    out.stderr = "\n".join(lines[:-1]) + ("\n" if len(lines) > 1 else "")
    return out, secs, rss


def py(code: str, *args: str) -> tuple[dict, float, float]:
    out, secs, rss = run([sys.executable, "-c", code, *args])
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1]), secs, rss


def alias_bomb(levels: int) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghijklmnop"
    for i in range(1, levels + 1):
        lines.append(f"{names[i]}: &{names[i]} [" + ",".join(f"*{names[i - 1]}" for _ in range(9)) + "]")
    return "\n".join(lines)


def build_folder(folder: Path, files: dict[str, str]) -> tuple[subprocess.CompletedProcess, float, float, Path]:
    seeds, index = folder / "seeds", folder / "index"
    seeds.mkdir(parents=True)
    shutil.copy(SEED, seeds)
    for name, text in files.items():
        (seeds / name).write_text(text, encoding="utf-8")
    out, secs, rss = run(QA + ["build", "--seeds", str(seeds), "--index", str(index), "--model", "hash"])
    return out, secs, rss, index


def front_matter(tmp: Path) -> list[str]:
    rows = []
    for label, text in (("plain `title:` (baseline)", f"---\ntitle: 地铁\n---\n\n{BODY}\n"),
                        ("alias bomb, 8 levels", f"---\n{alias_bomb(8)}\n---\n\n{BODY}\n"),
                        ("alias bomb, 9 levels", f"---\n{alias_bomb(9)}\n---\n\n{BODY}\n"),
                        ("`[` nested 500 deep", f"---\nx: {'[' * 500}{']' * 500}\n---\n\n{BODY}\n"),
                        ("`[` nested 50,000 deep", f"---\nx: {'[' * 50000}{']' * 50000}\n---\n\n{BODY}\n")):
        out, secs, rss, index = build_folder(tmp / label.replace(" ", "_"), {"x.md": text})
        size = sum(f.stat().st_size for f in index.glob("gen-*/articles.jsonl"))
        notes = [n["note"] for m in index.glob("gen-*/manifest.json") for n in json.loads(m.read_text()).get("notes", [])]
        outcome = "indexed" if out.returncode == 0 and "skipped x.md" not in out.stderr else f"exit {out.returncode}"
        rows.append(f"| {label} ({len(text.split('---')[1])} B) | {outcome} | {secs:.1f} s | {rss:.0f} MB | "
                    f"{size / 1024:.0f} KB | {(notes[0] if notes else out.stderr.strip())[:90]} |")
    return rows


PATHOLOGICAL = {"`'_x ' * n`": "_x ", "`'‹a' * n`": "‹a", "`'[[x' * n`": "[[x", "`'*x ' * n`": "*x ",
                "`'<a' * n`": "<a", "`'[a](' * n`": "[a](", "`'# a' + ' ' * n`": " "}
PARSE = """
import json, sys, time
from pathlib import Path
from qa.articles import parse_article
from qa.chunking import chunk_article
unit, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = "---\\ntitle: t\\n---\\n\\n" + prefix + unit * n + "x\\n\\n" + sys.argv[4] + "\\n"
best = 1e9
for _ in range(3):
    t = time.process_time()
    chunk_article(parse_article(text, Path("x.md")))
    best = min(best, time.process_time() - t)
print(json.dumps({"seconds": best, "bytes": len(text.encode())}))
"""


def quadratic() -> list[str]:
    rows = []
    for label, unit in PATHOLOGICAL.items():
        prefix = "# a" if unit == " " else ""
        n = 96_000 // len(unit.encode()) if unit != "‹a" else 32_000
        small, _, _ = py(PARSE, unit, str(n), prefix, BODY)
        large, _, _ = py(PARSE, unit, str(4 * n), prefix, BODY)
        rows.append(f"| {label} | {small['bytes'] / 1024:.0f} KB | {small['seconds'] * 1000:.0f} ms | "
                    f"{large['seconds'] * 1000:.0f} ms | {large['seconds'] / max(small['seconds'], 1e-6):.1f}x |")
    return rows


def escapes(tmp: Path) -> list[str]:
    folder = tmp / "escape"
    seeds = folder / "seeds"
    seeds.mkdir(parents=True)
    shutil.copy(SEED, seeds)
    os.symlink("/etc/passwd", seeds / "passwd.txt")
    os.symlink("/dev/zero", seeds / "zero.md")
    os.mkfifo(seeds / "x.md")
    os.symlink(seeds / SEED.name, seeds / "inside.md")
    rows = []
    for label, env in (("default", {}), ("QA_FOLLOW_LINKS=1", {"QA_FOLLOW_LINKS": "1"})):
        shutil.rmtree(folder / "index", ignore_errors=True)
        out, secs, rss = run(QA + ["build", "--seeds", str(seeds), "--index", str(folder / "index"), "--model", "hash"],
                             timeout=120, env={**os.environ, **env})
        skipped = {line.split(":", 1)[0].removeprefix("skipped "): line.split(": ", 1)[1]
                   for line in out.stderr.splitlines() if line.startswith("skipped ")}
        for name in ("passwd.txt", "zero.md", "x.md", "inside.md"):
            rows.append(f"| {name} | {label} | {'skipped: ' + skipped[name][:80] if name in skipped else 'read'} | "
                        f"{secs:.1f} s, {rss:.0f} MB (whole build) |")
    return rows


def dates(tmp: Path) -> list[str]:
    seeds = tmp / "dates" / "seeds"
    seeds.mkdir(parents=True)
    (seeds / "jul.md").write_text(f"---\ntitle: 七月\ndate: 2024-07-05\n---\n\n{BODY}\n", encoding="utf-8")
    args = ["--seeds", str(seeds), "--index", str(seeds.parent / "index"), "--model", "hash"]
    run(QA + ["build", *args])
    rows = []
    for flag, value, want in (("--since", "20240101", 1), ("--until", "2024-W01-1", 0), ("--since", "2024-07-05", 1),
                              ("--since", "2024/07/05", None)):
        out, _, _ = run(QA + ["ask", "地铁", *args, "--mode", "keyword", "--json", flag, value])
        got = len(json.loads(out.stdout)["results"]) if out.returncode == 0 else f"exit {out.returncode}: {out.stderr.strip()[:70]}"
        rows.append(f"| `{flag} {value}` | {got} | {'refused' if want is None else want} |")
    return rows


def tampering(tmp: Path) -> list[str]:
    from qa import storage

    rows = []
    cases = ["bm25 data: same-size garbage", "bm25 indices: same-size garbage", "bm25 indptr: same-size garbage",
             "manifest is a list", "manifest `model: null`", "manifest `file_sizes` names `../../x`"]
    for case in cases:
        folder = tmp / ("tamper" + str(cases.index(case)))
        _, _, _, index = build_folder(folder, {})
        gen = storage.current_generation(index)
        manifest = json.loads((gen / "manifest.json").read_text())
        if case.startswith("bm25"):
            name = {"data": "data.csc.index.npy", "indices": "indices.csc.index.npy",
                    "indptr": "indptr.csc.index.npy"}[case.split()[1].rstrip(":")]
            raw = (gen / "bm25" / name).read_bytes()
            (gen / "bm25" / name).write_bytes(raw[:128] + os.urandom(len(raw) - 128))
        elif "list" in case:
            (gen / "manifest.json").write_text(json.dumps([manifest]))
        elif "null" in case:
            manifest["model"] = None
            (gen / "manifest.json").write_text(json.dumps(manifest))
        else:
            manifest["file_sizes"]["../../x"] = 1
            (gen / "manifest.json").write_text(json.dumps(manifest))
        out, _, _ = run(QA + ["ask", "联合国大会决议", "--index", str(index), "--seeds", str(folder / "seeds"),
                              "--model", "hash"])
        shown = "Traceback" if "Traceback" in out.stderr else out.stderr.strip().splitlines()[0][:110] if out.stderr.strip() else "answered"
        rows.append(f"| {case} | exit {out.returncode} | {shown.replace(str(tmp), '…')} |")
    return rows


def disk_full(tmp: Path) -> list[str]:
    mnt = tmp / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True).returncode:
        return ["| (not measured: mounting a tmpfs needs root) | | |"]
    try:
        seeds = tmp / "full" / "seeds"
        seeds.mkdir(parents=True)
        shutil.copy(SEED, seeds)
        args = QA + ["build", "--seeds", str(seeds), "--index", str(mnt / "index"), "--model", "hash", "--quiet"]
        run(args)
        for i in range(600):
            (seeds / f"n{i}.md").write_text(f"---\ntitle: 第{i}篇\n---\n\n{BODY * 8}{i}\n", encoding="utf-8")
        out, secs, _ = run(args)
        work = (mnt / "index" / ".work").exists()
        return [f"| 3 MB tmpfs, rebuild of 601 articles | exit {out.returncode} | "
                f"{len(out.stderr.strip().splitlines())} line(s): {out.stderr.strip()[:150].replace(str(tmp), '…')} | "
                f".work left: {'yes' if work else 'no'}; gens: {len(list((mnt / 'index').glob('gen-*')))} |"]
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        parts = {
            "fm": front_matter(tmp), "quad": quadratic(), "esc": escapes(tmp), "dates": dates(tmp),
            "tamper": tampering(tmp), "full": disk_full(tmp),
        }
    body = f"""## Hostile input

Issue 12's attacks, measured again with `benchmarks/hostile.py` ({machine()}; `hash` model, each attack
in its own process; peak RSS is the child's; build times are wall time on the shared machine, the
baseline row is the same build without an attack). Before the fixes (as reproduced in issue 12, not
re-run here: the bomb needs 5 GB): the 8-level alias bomb built for 87 s in
5 GB and wrote a 658 MB `articles.jsonl`; 500-deep nesting stopped the build (RecursionError);
`'_x ' * 32000` took 53 s to parse; a link to /etc/passwd was indexed, /dev/zero read until MemoryError,
a FIFO hung the build; `--since 20240101` matched nothing and `--until 2024-W01-1` kept 2024-07-05;
tampered indexes and a full disk gave tracebacks.

Front matter (one article with it, plus the seed; whole `qa build`):

| front matter | article | build | peak RSS | articles.jsonl | note in the manifest |
|---|---|---|---|---|---|
{chr(10).join(parts["fm"])}

Pathological markdown (parse + chunk one article, best of 3 CPU times; linear growth is ~4x for 4x input):

| input | size | parse | 4x input | growth |
|---|---|---|---|---|
{chr(10).join(parts["quad"])}

Seeds folder escapes (`qa build`; the build finishes in both cases):

| file | setting | outcome | build |
|---|---|---|---|
{chr(10).join(parts["esc"])}

Date filters (`qa ask --json`, one article dated 2024-07-05):

| filter | results | expected |
|---|---|---|
{chr(10).join(parts["dates"])}

Tampered index (`qa ask`):

| damage | exit | first line of the error |
|---|---|---|
{chr(10).join(parts["tamper"])}

Full disk during a build:

| setting | exit | message | left behind |
|---|---|---|---|
{chr(10).join(parts["full"])}
"""
    print(body)
    if not args.no_write:
        update_section("hostile", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
