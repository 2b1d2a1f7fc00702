"""`qa check` against a Milvus store: does the published index match the articles, model and settings?"""

from __future__ import annotations

import json

from ..config import Settings
from ..embedding import same_model
from ..errors import IndexError_, SeedsError
from ..index import BuildReport, CheckResult, seed_files, settings_identity
from . import milvus as mv
from .milvus_build import _errors, _live_articles, _load, _scan


def check(settings: Settings) -> CheckResult:
    """Does the Milvus index match the articles, the settings and the model? Loads no model."""
    spec = settings.store
    c = mv.client(spec)  # an unreachable server or a refused token is an error (exit 2), not a stale index
    manifest = mv.read_manifest(c, spec)
    if manifest is None:
        return CheckResult(False, [f"no newsqa index in Milvus at {spec}: run `qa build --store {spec}`"])
    with _errors(spec):
        _load(c, manifest)
        live = _live_articles(c, manifest)
    problems = []
    try:
        mv._check_format(manifest, spec)
    except IndexError_ as e:
        problems.append(str(e))
    if not same_model(manifest["model"].get("model"), settings.model):
        problems.append(f"index was built with model {manifest['model'].get('model')!r}, "
                        f"settings ask for {settings.model!r}")
    if manifest.get("settings") != settings_identity(settings):
        problems.append("chunking, tokenizer or user dictionary settings changed since the build")
    try:
        files = seed_files(settings.seeds)
    except SeedsError as e:
        return CheckResult(False, [str(e)], manifest)
    report = BuildReport(spec)  # type: ignore[arg-type]
    groups = _scan(files, settings.seeds, report)
    now = {(p, d) for d, paths in groups.items() for p in paths}
    indexed = {(p, d) for (_, d), a in live.items() for p in json.loads(a["paths"])}
    skipped = {s[0] for s in manifest.get("skipped", [])}
    changed = sorted(p for p, _ in now - indexed if p not in skipped)
    gone = sorted(p for p, _ in indexed - now)
    for label, paths in (("new or changed", changed), ("deleted or changed", gone)):
        if paths:
            problems.append(f"{len(paths)} {label} article file(s) since the build, e.g. {paths[0]}")
    return CheckResult(not problems, problems, manifest)
