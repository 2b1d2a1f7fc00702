"""Which files of the seeds folder are read, and reading one without leaving the folder or hanging.

The seeds folder is untrusted: `ln -s /etc/passwd s/passwd.txt` was indexed and shown as an article,
a link to /dev/zero read until MemoryError, a FIFO named `x.md` hung the build. So only *regular
files inside the folder* are read: a symbolic link is skipped (or, with `QA_FOLLOW_LINKS=1`, followed
only when its target resolves inside the folder), the file is opened without blocking and checked with
`fstat` on the open descriptor (no race between the check and the read), and its size is capped
before and while reading. Everything else is skipped with the reason.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from pathlib import Path

from .errors import ArticleError, SeedsError

TEXT_SUFFIXES = (".md", ".txt", ".markdown")
# Every format qa/sources reads: pages, feeds, exports (the readers live there; the folder walk is here).
SUFFIXES = TEXT_SUFFIXES + (".html", ".htm", ".xml", ".rss", ".atom", ".jsonl", ".csv")
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_USERDICT_BYTES = 20 * 1024 * 1024
NOT_ARTICLES = ("userdict.txt",)
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def seed_files(seeds: Path) -> list[Path]:
    """Article files under `seeds`, sorted; symlinked folders are not followed (no loops, no escape).
    Links and special files are listed too: reading them reports why they are skipped."""
    if not seeds.is_dir():
        raise SeedsError(f"articles folder {seeds} does not exist: create it and put .md/.txt articles "
                         "in it, or point QA_SEEDS / --seeds at yours")
    found = []
    for root, dirs, files in os.walk(seeds, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in files
                  if f.lower().endswith(SUFFIXES) and not f.startswith(".") and f not in NOT_ARTICLES]
    if not found:
        raise SeedsError(f"no .md or .txt articles in {seeds}: add some, or point QA_SEEDS / --seeds "
                         "at the folder that has them")
    return sorted(found, key=str)  # (comparing Path objects part by part cost 0.2 s on 10k files)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _target(path: Path, seeds: Path, follow_links: bool) -> Path:
    """The path to open: `path` itself, or a link's target when links are allowed and it stays inside."""
    try:
        if not path.is_symlink():
            return path
        if not follow_links:
            raise ArticleError(path, "is a symbolic link, which is not followed: copy the file into the "
                               "articles folder (or set QA_FOLLOW_LINKS=1 for links that stay inside it)")
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # a loop, a dangling link
        raise ArticleError(path, "is a symbolic link that leads nowhere (dangling or a loop): "
                           "remove it or point it at an article") from None
    if not target.is_relative_to(seeds.resolve()):
        raise ArticleError(path, f"is a symbolic link to {target}, outside the articles folder: "
                           "copy the file into the folder instead")
    return target


def regular_file(path: Path, seeds: Path, follow_links: bool = False) -> Path:
    """The path to stream (exports have no size cap): a regular file inside `seeds`, else `ArticleError`."""
    target = _target(path, seeds, follow_links)
    try:
        st = os.stat(target, follow_symlinks=False)
    except OSError as e:
        raise ArticleError(path, f"cannot be read ({e.strerror or e}): check the file and its permissions") from None
    if not stat.S_ISREG(st.st_mode):
        raise ArticleError(path, f"is {_kind(st.st_mode)}, not a file: only regular files are read")
    return target


def read_capped(path: Path, seeds: Path | None = None, follow_links: bool = False,
                limit: int = MAX_FILE_BYTES, what: str = "one article") -> bytes:
    """The bytes of a regular file under `seeds`; `ArticleError` (path + reason + fix) for anything else."""
    target = _target(path, seeds, follow_links) if seeds is not None else path
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if target == path:
        flags |= getattr(os, "O_NOFOLLOW", 0)  # a link swapped in after the check is refused, not followed
    try:
        fd = os.open(target, flags)
    except FileNotFoundError:
        raise ArticleError(path, "disappeared while the build was reading the folder") from None
    except OSError as e:
        if e.errno == errno.ELOOP:  # ELOOP: O_NOFOLLOW met a link
            raise ArticleError(path, "is a symbolic link, which is not followed: copy the file into the "
                               "articles folder") from None
        raise ArticleError(path, f"cannot be read ({e.strerror or e}): check the file and its permissions") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ArticleError(path, f"is {_kind(st.st_mode)}, not a file: only regular .md/.txt files are read")
        if st.st_size > limit:
            raise ArticleError(path, f"{st.st_size / 2**20:.0f} MB is over the {limit // 2**20} MB limit for "
                               f"{what}: split it into several files")
        chunks, total = [], 0
        while total <= limit:
            block = os.read(fd, min(1 << 20, limit + 1 - total))
            if not block:
                break
            chunks.append(block)
            total += len(block)
        if total > limit:  # it grew after fstat
            raise ArticleError(path, f"is over the {limit // 2**20} MB limit for {what}: split it into several files")
        return b"".join(chunks)
    except OSError as e:
        raise ArticleError(path, f"cannot be read ({e.strerror or e}): check the file and its permissions") from None
    finally:
        os.close(fd)


def decode(raw: bytes, path: object = "<text>") -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030/GBK; anything else is rejected."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _lines(raw.decode("utf-16"))
        except UnicodeDecodeError:
            raise ArticleError(path, "starts like UTF-16 but is not valid UTF-16: re-save it as UTF-8") from None
    if b"\x00" in raw[:8192]:
        raise ArticleError(path, "looks like a binary file, not text: only .md/.txt articles are indexed")
    for encoding in ("utf-8", "gb18030"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "gb18030" and len(_PRIVATE_USE.findall(text)) > max(2, len(text) // 200):
            break  # Big5 and friends "decode" as GB18030 into private-use garbage: reject instead
        return _lines(text)
    raise ArticleError(path, "is neither UTF-8 nor GB18030/GBK text: convert it, e.g. "
                       "`iconv -f BIG5 -t UTF-8 in.txt > out.txt`")


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def seed_digest(path: Path, seeds: Path, follow_links: bool = False) -> tuple[bytes | None, str]:
    """(the file's bytes, or None for an export that is read as a stream later; the sha256 of its bytes),
    as `qa build` and the Milvus build both decide "unchanged / identical / new" from it. A file that
    cannot be read raises ArticleError with the reason for the build summary."""
    from .sources import file_digest, streamed  # (qa.sources imports this module)

    rel = path.relative_to(seeds).as_posix() if path.is_relative_to(seeds) else str(path)
    try:
        if streamed(path):  # an export has no size cap: hashed as a stream, still only a regular file inside
            return None, file_digest(regular_file(path, seeds, follow_links))
        raw = read_capped(path, seeds, follow_links)
        return raw, hashlib.sha256(raw).hexdigest()
    except OSError as e:
        raise ArticleError(rel, f"cannot be read ({e.strerror or e}): check the file") from None
