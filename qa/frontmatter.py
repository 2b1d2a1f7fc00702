"""Front matter: the `---` YAML block at the top of an article, read as small, flat metadata.

Article files are untrusted. YAML can expand aliases exponentially (512 bytes became 658 MB) and
nests without limit (`[[[[…` 500 deep raised RecursionError and stopped the whole build). Front
matter is a handful of `key: value` lines, so anything else is refused before it is built: a block
over `MAX_BYTES`, any alias, nesting deeper than `MAX_DEPTH`, more than `MAX_NODES` values. The
article is still indexed, without its metadata, and the reason travels with it (`FrontMatter.problem`).
Values kept are scalars (or flat lists of them), strings at most `MAX_VALUE_CHARS` long.

>>> split_front_matter("---\\ntitle: 标题\\ntags: [a, b]\\n---\\n正文").meta
{'title': '标题', 'tags': ['a', 'b']}
>>> split_front_matter("---\\na: &x [1]\\nb: *x\\n---\\n正文").problem
'front matter ignored: it uses YAML aliases (*name), which metadata does not need'
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import yaml

from .errors import ArticleError

MAX_BYTES = 16 * 1024  # a generous page of metadata; real front matter is a few hundred bytes
MAX_DEPTH = 3  # `authors: [{name: …}]` still parses (then that key is dropped); deeper is refused whole
MAX_NODES = 2000
MAX_KEYS = 100
MAX_VALUE_CHARS = 2000
MAX_LIST_ITEMS = 100

_BLOCK = re.compile(r"---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|$)", re.S)


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML, but dates stay strings: `2024-13-45` must not crash the parser; `_iso_date` checks them."""


_FrontMatterLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class FrontMatter:
    meta: dict = field(default_factory=dict)  # JSON-safe, flat, bounded
    body: str = ""
    problem: str | None = None  # why (part of) the metadata was ignored; the article itself is kept


def split_front_matter(text: str, rel: object = "<text>") -> FrontMatter:
    """`---\\n yaml \\n---` at the very top becomes bounded metadata; the rest is the body.

    Raises `ArticleError` only for YAML that does not parse (as before: the file needs fixing)."""
    text = text.lstrip("\ufeff")
    if not text.startswith("---"):
        return FrontMatter({}, text)
    m = _BLOCK.match(text)
    if not m:
        return FrontMatter({}, text)
    source, body = m.group(1), text[m.end():]
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        return FrontMatter({}, body, f"front matter ignored: {size} bytes is over the {MAX_BYTES} byte limit "
                           "for metadata: keep it to short `key: value` lines")
    try:
        refused = _refusal(source)
        if refused:
            return FrontMatter({}, body, f"front matter ignored: {refused}")
        meta = yaml.load(source, Loader=_FrontMatterLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError) as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 2})" if where else ""
        raise ArticleError(rel, f"front matter is not valid YAML{line}: fix it or remove the --- block") from None
    if meta is None:
        return FrontMatter({}, body)
    if not isinstance(meta, dict):
        raise ArticleError(rel, "front matter must be `key: value` lines: fix it or remove the --- block")
    kept, dropped = _bounded(meta)
    problem = (f"front matter values ignored ({', '.join(dropped[:5])}): only short text, numbers and lists "
               "of them are kept") if dropped else None
    return FrontMatter(kept, body, problem)


def _refusal(source: str) -> str | None:
    """Walk YAML's event stream (the parser is iterative: no recursion, nothing built yet)."""
    depth = nodes = 0
    for event in yaml.parse(source, Loader=_FrontMatterLoader):
        if isinstance(event, yaml.AliasEvent):
            return "it uses YAML aliases (*name), which metadata does not need"
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                return f"it nests deeper than {MAX_DEPTH} levels: use flat `key: value` lines"
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_NODES:
                return f"it has more than {MAX_NODES} values: keep metadata short"
    return None


def _scalar(value: object) -> object:
    """A JSON-safe bounded scalar, or `_DROP`."""
    if isinstance(value, bool) or value is None or isinstance(value, int) and abs(value) < 2**53:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE_CHARS else _DROP
    return _DROP


_DROP = object()


def _bounded(meta: dict) -> tuple[dict, list[str]]:
    kept: dict = {}
    dropped: list[str] = []
    for n, (key, value) in enumerate(meta.items()):
        name = str(key)[:60]
        if n >= MAX_KEYS:
            dropped.append(f"{len(meta) - MAX_KEYS} keys past the first {MAX_KEYS}")
            break
        if isinstance(value, list) and len(value) <= MAX_LIST_ITEMS:
            items = [_scalar(v) for v in value]
            if all(v is not _DROP for v in items):
                kept[name] = items
                continue
        else:
            v = _scalar(value)
            if v is not _DROP:
                kept[name] = v
                continue
        dropped.append(name)
    return kept, dropped
