"""transformers: the newest known release that the request, torch and Python allow (yanked releases and
releases whose asked extras cannot install are passed over), or a git ref."""

from __future__ import annotations

from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dockyard.errors import SpecError
from dockyard.knowledge.serving import serve_knowledge
from dockyard.resolve.context import Context, refreshed, stale_hint
from dockyard.resolve.plan import TorchPlan, TransformersPlan
from dockyard.spec.model import suggest
from dockyard.spec.requests import is_commit, version_request


def _transformers_request(ctx: Context) -> SpecifierSet | None:
    value = ctx.spec.transformers
    if value is None:
        return SpecifierSet()
    if value == "main" or value.startswith("git:"):
        return None
    request = version_request(value)
    if request is None:
        raise SpecError(f"{ctx.where('transformers', value)}: not a version, specifier, \"main\" or \"git:<ref>\"",
                        'use e.g. "5.24.0", ">=5.20", "main" or "git:<commit sha>"')
    return request


def broken_extras(ctx: Context, version: Version) -> list[tuple[str, str]]:
    """(extra, reason) for the spec's extras that cannot install on this transformers release."""
    found = []
    for row in ctx.k.transformers_meta.get("broken_extra", []):
        if SpecifierSet(row["versions"]).contains(version):
            found += [(extra, row["reason"]) for extra in ctx.spec.extras if extra in row["extras"]]
    return found


def _compatible_transformers(ctx: Context, torch: Version | None, python: str | None,
                             extras: bool = True, known_extras: bool = False) -> Version | None:
    """The newest known release matching the spec's request that supports torch and python (and, with
    `extras`, whose asked extras can be installed; with `known_extras`, that has every asked extra)."""
    request = _transformers_request(ctx)
    if request is None:
        return None
    for text in reversed(ctx.k.transformers_versions):
        version = Version(text)
        if not request.contains(version) or (extras and broken_extras(ctx, version)):
            continue
        if known_extras and not set(ctx.spec.extras) <= set(ctx.k.transformers_extras(version)):
            continue
        if ctx.spec.serve is not None and not ctx.spec.transformers and not serve_knowledge().covers(text):
            continue  # an open choice for a serve image takes a release whose serve CLI the knowledge read
        row = ctx.k.transformers_range(version)
        if row is None:
            continue
        if torch is not None and not row.torch.contains(torch, prereleases=True):
            continue
        if python is not None and not row.python.contains(f"{python}.0"):
            continue
        return version
    return None


def newest_with_working_extras(ctx: Context) -> str | None:
    for text in reversed(ctx.k.transformers_versions):
        if not broken_extras(ctx, Version(text)):
            return text
    return None


def newest_transformers_for(ctx: Context, torch: Version) -> str | None:
    for text in reversed(ctx.k.transformers_versions):
        row = ctx.k.transformers_range(Version(text))
        if row and row.torch.contains(torch, prereleases=True) and (
                ctx.spec.python is None or row.python.contains(f"{ctx.spec.python}.0")):
            return text
    return None


def _unknown_transformers(ctx: Context) -> bool:
    """A transformers request that matches no known release (resolve_transformers reports it)."""
    request = _transformers_request(ctx)
    return request is not None and not any(request.contains(v) for v in ctx.k.transformers_versions)


def transformers_torch_blocker(ctx: Context, torch: Version) -> str | None:
    """transformers' torch bound; its Python bound is reported by the Python step."""
    if _transformers_request(ctx) is None or _unknown_transformers(ctx):
        return None
    if _compatible_transformers(ctx, torch, None, extras=False) is not None:
        return None
    asked = ctx.spec.transformers or "any known release"
    return (f"transformers {asked} does not support torch {torch} (lower bound of its torch extra, PyPI "
            "metadata)")


def transformers_python_candidates(ctx: Context, candidates: list[str]) -> list[str]:
    if _transformers_request(ctx) is None or _unknown_transformers(ctx):
        return list(candidates)
    torch = ctx.torch_version
    return [p for p in candidates if _compatible_transformers(ctx, torch, p, extras=False) is not None]


def resolve_transformers(ctx: Context, torch: TorchPlan, python: str) -> TransformersPlan:
    spec, k = ctx.spec, ctx.k
    editable = spec.profile == "dev"
    value = spec.transformers
    archive = k.transformers_meta["archive"]
    if value is not None and (value == "main" or value.startswith("git:")):
        ref = "main" if value == "main" else value[4:]
        if not ref:
            ctx.fail("transformers", value, 'empty git ref; write "git:<commit sha>" or "git:v5.24.0"', fixed=True)
        elif not is_commit(ref):
            ctx.warnings.append(f"{ctx.where('transformers', value)}: {ref!r} can move, so rebuilds may install "
                                "different code; pin a 40-character commit sha for reproducible images")
        ctx.notes.append("transformers from a git ref: its Python and torch requirements are not checked")
        extras = _extras(ctx, None)
        return TransformersPlan(None, ref, extras, archive.format(ref=ref), editable)
    torch_version = Version(torch.version) if torch.version else None
    newest = _compatible_transformers(ctx, torch_version, python)
    version = _compatible_transformers(ctx, torch_version, python, known_extras=True) or newest
    if newest is not None and version != newest:
        missing = sorted(set(spec.extras) - set(k.transformers_extras(newest)))
        ctx.notes.append(f"transformers {newest} skipped: it has no {', '.join(missing)} extra; chose {version}")
    if version is None:
        request = _transformers_request(ctx)
        known = [v for v in k.transformers_versions if request is None or request.contains(v)]
        if not known and (yanked := yanked_row(ctx)):
            ctx.fail("transformers", value, f"transformers {yanked['version']} was yanked from PyPI (reason: "
                     f"{yanked['reason']}; source: {yanked['source']}), so pip will not pick it. Nearest valid "
                     f'choices: transformers = "{nearest_release(ctx, Version(yanked["version"]))}"', fixed=True)
        elif not known:
            ctx.fail("transformers", value, f"matches no release dockyard knows (newest known "
                     f"{k.transformers_versions[-1]}). {stale_hint(k)}", fixed=True)
        elif broken := broken_extras(ctx, Version(known[-1])):
            extra, reason = broken[0]
            working = newest_with_working_extras(ctx)
            instead = f'; transformers = "{working}" has a working {extra} extra' if working else ""
            ctx.fail("extras", extra, f"the {extra} extra of transformers {known[-1]} cannot be installed: {reason}. "
                     f"Nearest valid choices: drop the extra and list the packages you need{instead}")
        elif not ctx.problems:
            row = k.transformers_range(Version(known[-1]))
            detail = f"needs Python {row.python} and torch {row.torch}" if row else "has no known requirements"
            ctx.fail("transformers", value, f"transformers {known[-1]} {detail} (PyPI metadata), the plan has "
                     f"Python {python} and torch {torch.version or 'nightly'}")
        return TransformersPlan(None, None, ())
    url = archive.format(ref=f"v{version}") if editable else None
    return TransformersPlan(str(version), None, _extras(ctx, version), url, editable)


def _extras(ctx: Context, version: Version | None) -> tuple[str, ...]:
    known = ctx.k.transformers_extras(version)
    every = ctx.k.every_transformers_extra()
    for extra in ctx.spec.extras:
        if extra not in known:
            ctx.fail("extras", extra, f"not an extra of transformers {version or '(newest)'}. "
                     f"{suggest(extra, known)}known extras: {', '.join(known)}", fixed=extra not in every)
    return tuple(sorted(set(ctx.spec.extras)))


def yanked_row(ctx: Context) -> dict[str, Any] | None:
    """The yanked release an exact transformers pin names (knowledge/transformers.toml [[yanked]])."""
    request = _transformers_request(ctx)
    if request is None:
        return None
    for version, row in sorted(ctx.k.yanked("transformers").items()):
        if request.contains(Version(version)):
            return {"version": version, "reason": row.yanked or "none given",
                    "source": f"PyPI's JSON API, yanked flag and reason, in knowledge/releases.toml "
                              f"(refreshed {refreshed(ctx.k)})"}
    return None


def nearest_release(ctx: Context, version: Version) -> str:
    """The next known release after `version` (its fix release), else the newest before it."""
    known = [Version(v) for v in ctx.k.transformers_versions]
    later = [v for v in known if v > version]
    return str(min(later) if later else max(known))
