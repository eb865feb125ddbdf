"""Fidelity computed: an original's inventory against a preset's image as rendered, with the preset's record
(knowledge/fidelity.py) explaining every difference and nothing else.

The image side is the rendered Dockerfile read back by the same reader as the original: what the final
stage holds, build stages included where their files are copied in (a package a builder stage installs
into the venv the final stage copies is in the image). An item in both with a compatible version or value
is kept; for every other item of the original the record says how the image provides, replaces, changes
or drops it, and for every item the image adds (of the kinds a user would notice: packages, extras, system
packages, env, user, entrypoint, command) why, unless dockyard puts it in every image (OWN, explained once
in docs/presets.md). Whatever does not add up is a problem, as a sentence naming the preset, kind and item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from dockyard.knowledge.fidelity import KINDS, PLACEHOLDER, Entry, Record, normal
from dockyard.readback.inventory import SINGLE, Inventory, Item, wheel_variant

# What dockyard puts in every image, explained once (docs/presets.md), not per preset.
OWN: dict[str, dict[str, str]] = {
    "system": {"ca-certificates": "TLS roots for pip and the Hub", "tini": "the init that forwards signals"},
    "env": {"LANG": "a UTF-8 locale", "LC_ALL": "a UTF-8 locale", "PYTHONUNBUFFERED": "logs appear at once",
            "HF_HOME": "the Hugging Face cache in the user's home", "VIRTUAL_ENV": "the venv at /opt/venv",
            "PATH": "the venv first"},
    "user": {"1000:1000": "a non-root user (spec key `user`)"},
    "workdir": {"/home/dockyard": "the user's home"},
    "entrypoint": {"/usr/bin/tini --": "tini runs the command"},
    "cmd": {"python": "the default command (spec key `cmd`)"},
}
# Kinds where an item only the image has needs a reason (or is dockyard's own).
IMAGE_ACCOUNTED = ("packages", "extras", "system", "env", "user", "workdir", "entrypoint", "cmd")


@dataclass(frozen=True)
class Row:
    kind: str
    name: str
    original: str  # the original's value ("" when it has none), or "-" when the original lacks the item
    image: str  # the image's value, or "-" when the image lacks it
    status: str  # kept, provided, replaced, changed, dropped, added, replacement, own, unaccounted
    reason: str = ""


@dataclass(frozen=True)
class Comparison:
    preset: str
    original: str
    rows: tuple[Row, ...]
    problems: tuple[str, ...]

    def select(self, *statuses: str) -> list[Row]:
        return [r for r in self.rows if r.status in statuses]


_BUILD_FLAG = re.compile(r"\b((?:DS_BUILD_\w+|SKIP_CUDA_BUILD|FORCE_CUDA|BUILD_CUDA_EXT)=\S+)")


def build_flags(item: Item) -> frozenset[str]:
    """The switches an install sets that decide what is compiled into a package (DeepSpeed's DS_BUILD_*
    ops, SKIP_CUDA_BUILD ...), from the install's environment the reader noted."""
    return frozenset(_BUILD_FLAG.findall(item.detail.split(" with ", 1)[1])) if " with " in item.detail \
        else frozenset()


def _shown(item: Item) -> str:
    if item.kind in SINGLE:
        return item.name
    variant = wheel_variant(item) if item.kind == "packages" else None
    shown = f"{item.value} ({variant.label})".strip() if variant is not None and variant.label else item.value
    flags = build_flags(item) if item.kind == "packages" else frozenset()
    return f"{shown} [{' '.join(sorted(flags))}]".strip() if flags else shown


def _version_fits(wanted: str, pinned: str) -> bool:
    """Whether an image's pin (`==2.14.1`) satisfies the original's specifier (`==2.14.0.*`, `<=2.11.0`)."""
    if not wanted or not pinned:
        return True
    if "://" in wanted or wanted.startswith("git+"):
        return wanted == pinned
    if "://" in pinned or not pinned.startswith("==") or "*" in pinned:
        return wanted == pinned
    try:
        return SpecifierSet(wanted).contains(Version(pinned[2:]), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return wanted == pinned


def same(original: Item, image: Item) -> bool:
    if original.kind == "packages":
        found = (wheel_variant(original), wheel_variant(image))
        variants = tuple(None if v is None else (v.kind, v.label) for v in found)
        if None not in variants and variants[0] != variants[1]:
            return False  # torchcodec from the CPU index is not torchcodec from the CUDA one
        if build_flags(original) != build_flags(image):
            return False  # DeepSpeed with its ops prebuilt is not DeepSpeed without
        wanted = original.value
        if None not in variants:  # the same index: `==0.18.0+xpu` is its `==0.18.0`
            wanted = re.sub(r"\+[A-Za-z0-9.]+", "", wanted)
        return _version_fits(wanted, image.value)
    if original.kind in ("env", "labels", "args", "system"):
        return original.value == image.value or (original.kind == "system" and not original.value)
    return True


@dataclass
class _Check:
    record: Record
    image: Inventory
    extra_requirements: dict[str, list[str]]
    problems: list[str]

    def where(self, kind: str, name: str) -> str:
        return f"preset {self.record.preset} [fidelity].{kind}: {name!r}"

    def has(self, ref: str, kind: str) -> bool:
        """Whether the image has the item a `by` or provider names ("NAME" of `kind`, or "KIND:NAME")."""
        head, sep, rest = ref.partition(":")
        if sep and head in KINDS:
            kind, ref = head, rest
        names = {normal(kind, i.name) for i in self.image.of(kind) if i.final or kind == "args"}  # any stage's ARG
        if kind == "steps":
            return any(n == ref or n.startswith(ref + " ") for n in names)
        return normal(kind, ref) in names

    def through_extra(self, package: str, side: Inventory) -> str:
        """The transformers extra of `side` that installs `package` (knowledge/transformers.toml), or ""."""
        for extra in sorted(side.final("extras")):
            base, _, name = extra.partition("[")
            if normal("packages", base) == "transformers" and package in self.extra_requirements.get(
                    name.rstrip("]"), []):
                return extra
        return ""

    def provider_problem(self, entry: Entry) -> str | None:
        provider = entry.by[0] if entry.by else ""
        kind, _, name = provider.partition(":")
        if kind == "torch":
            return None if self.has("torch", "packages") else "the image has no torch"
        if kind == "venv":
            if "VIRTUAL_ENV" not in self.image.final("env"):
                return "the image has no virtualenv"
            slims = [s for s in self.image.final("steps") if " --slim" in s and "--keep-tools" not in s]
            return f"the image's slim step removes pip, setuptools and wheel ({slims[0][:60]}...)" if slims else None
        if kind == "extra":
            extra = name if "[" in name else f"transformers[{name}]"
            if not self.has(extra, "extras"):
                return f"the image does not install {extra}"
            installs = self.extra_requirements.get(name.split("[")[-1].rstrip("]"))
            if "[" not in name and installs is not None and normal("packages", entry.name) not in installs:
                return f"the {name} extra does not install it (it installs {', '.join(installs)})"
            return None
        return None if self.has(name, "packages") else f"the image does not have {name}"


def compare(original: Inventory, image: Inventory, record: Record,
            extra_requirements: dict[str, list[str]] | None = None) -> Comparison:
    """Every item of `original` and of `image` as kept, explained by `record`, or a problem.
    `extra_requirements` (transformers' extra -> what it installs, where the knowledge base knows) lets a
    `provided = "extra:NAME"` claim be checked against the extra itself."""
    check = _Check(record, image, extra_requirements or {}, [])
    rows: list[Row] = []
    used: set[tuple[str, str]] = set()
    named_by: set[tuple[str, str]] = set()
    for entry in record.entries:
        for ref in entry.by if entry.status == "replaced" else ():
            head, sep, rest = ref.partition(":")
            kind, name = (head, rest) if sep and head in KINDS else (entry.kind, ref)
            named_by.add((kind, normal(kind, name)))
    for kind in KINDS:
        rows += _original_rows(check, kind, original, used)
        rows += _image_rows(check, kind, original, used, named_by)
    for entry in record.entries:
        if PLACEHOLDER.match(entry.why) or PLACEHOLDER.match(entry.source):
            check.problems.append(f"{check.where(entry.kind, entry.name)}: the record holds a placeholder, not a "
                                  "reason (say why the image differs, with the source)")
        if (entry.kind, normal(entry.kind, entry.name)) not in used:
            check.problems.append(f"{check.where(entry.kind, entry.name)} is recorded as {entry.status}, but "
                                  f"{_neither(entry, original, image)}")
    return Comparison(record.preset, " + ".join(record.originals), tuple(rows), tuple(check.problems))


def _neither(entry: Entry, original: Inventory, image: Inventory) -> str:
    key = normal(entry.kind, entry.name)
    in_original = key in {normal(entry.kind, n) for n in original.final(entry.kind)}
    in_image = key in {normal(entry.kind, n) for n in image.final(entry.kind)}
    if in_original and in_image:
        return "the original and the image both have it, alike: there is nothing to explain"
    if in_image:
        return "only the image has it and it is dockyard's own, explained once in docs/presets.md"
    return "neither the original nor the image has it"


def _original_rows(check: _Check, kind: str, original: Inventory, used: set[tuple[str, str]]) -> list[Row]:
    rows: list[Row] = []
    image_items = {normal(kind, n): i for n, i in check.image.final(kind).items()}
    single_image = next(iter(check.image.final(kind).values()), None) if kind in SINGLE else None
    for name, item in original.final(kind).items():
        key = normal(kind, name)
        entry = check.record.entry(kind, name)
        found = image_items.get(key)
        if found is not None and same(item, found):
            rows.append(Row(kind, name, _shown(item), _shown(found), "kept"))
            continue
        provider = check.through_extra(key, check.image) if kind == "packages" and found is None else ""
        if provider:
            rows.append(Row(kind, name, _shown(item), "-", "provided", f"{provider} installs it (the extra's "
                                                                         "requirements, knowledge/transformers.toml)"))
            if entry is not None:
                used.add((kind, key))
                check.problems.append(f"{check.where(kind, name)} is recorded as {entry.status}, but {provider} "
                                      "installs it: there is nothing to explain")
            continue
        if entry is not None:
            used.add((kind, key))
        other = found or single_image
        image_value = _shown(other) if other is not None else "-"
        if entry is None:
            what = (f"the image has {image_value!r} instead" if other is not None else "the image lacks it")
            check.problems.append(f"{check.where(kind, name)} is in the original ({_shown(item) or 'present'}) and "
                                  f"{what}; the record does not say why (changed, replaced, provided or dropped)")
            rows.append(Row(kind, name, _shown(item), image_value, "unaccounted"))
            continue
        rows.append(_explained(check, entry, item, found, other, image_value))
    return rows


def _explained(check: _Check, entry: Entry, item: Item, found: Item | None, other: Item | None,
               image_value: str) -> Row:
    kind, name = entry.kind, entry.name
    reason = _reason(entry)
    if entry.status == "changed":
        if other is None:
            check.problems.append(f"{check.where(kind, name)} is recorded as changed, but the image lacks it")
    elif entry.status == "added":
        check.problems.append(f"{check.where(kind, name)} is recorded as added, but the original has it")
    elif found is not None:
        check.problems.append(f"{check.where(kind, name)} is recorded as {entry.status}, but the image has it "
                              f"({_shown(found) or 'present'}, the original {_shown(item) or 'present'}): "
                              "mark it changed with why")
    elif entry.status == "provided":
        problem = check.provider_problem(entry)
        if problem:
            check.problems.append(f"{check.where(kind, name)} is recorded as provided by {entry.by[0]!r}, but "
                                  f"{problem}")
    elif entry.status == "replaced":
        missing = [ref for ref in entry.by if not check.has(ref, kind)]
        if missing:
            check.problems.append(f"{check.where(kind, name)} is recorded as replaced by {', '.join(missing)}, "
                                  "which the image lacks")
    return Row(kind, name, _shown(item), image_value, entry.status, reason)


def _image_rows(check: _Check, kind: str, original: Inventory, used: set[tuple[str, str]],
                named_by: set[tuple[str, str]]) -> list[Row]:
    if kind not in IMAGE_ACCOUNTED:
        return []
    rows: list[Row] = []
    in_original = {normal(kind, n) for n in original.final(kind)}
    single_original = kind in SINGLE and bool(original.final(kind))
    for name, item in check.image.final(kind).items():
        key = normal(kind, name)
        if key in in_original or single_original:
            continue  # compared on the original's row
        entry = check.record.entry(kind, name)
        provider = check.through_extra(key, original) if kind == "packages" else ""
        if provider:
            rows.append(Row(kind, name, "-", _shown(item), "kept", f"the original installs it through {provider}"))
            if entry is not None:
                used.add((kind, key))
                check.problems.append(f"{check.where(kind, name)} is recorded as {entry.status}, but the original "
                                      f"installs it through {provider}: there is nothing to explain")
            continue
        if entry is not None and name in OWN.get(kind, {}):
            used.add((kind, key))
            check.problems.append(f"{check.where(kind, name)} is recorded as {entry.status}, but it is dockyard's "
                                  "own, in every image and explained once in docs/presets.md")
            rows.append(Row(kind, name, "-", _shown(item), "own", OWN[kind][name]))
        elif entry is not None:
            used.add((kind, key))
            if entry.status == "added":
                rows.append(Row(kind, name, "-", _shown(item), "added", entry.why))
            else:
                check.problems.append(f"{check.where(kind, name)} is recorded as {entry.status}, but the original "
                                      "lacks it and the image has it: mark it added with why")
                rows.append(Row(kind, name, "-", _shown(item), "unaccounted"))
        elif (kind, key) in named_by:
            rows.append(Row(kind, name, "-", _shown(item), "replacement"))
        elif name in OWN.get(kind, {}):
            rows.append(Row(kind, name, "-", _shown(item), "own", OWN[kind][name]))
        else:
            removed = [i for i in original.of(kind) if normal(kind, i.name) == key and not i.final]
            note = f" (the original has it only where it does not reach the image: {removed[0].detail})" \
                if removed and removed[0].detail else ""
            check.problems.append(f"{check.where(kind, name)} is in the image ({_shown(item) or 'present'}) and not "
                                  f"in the original{note}; the record does not say why (added)")
            rows.append(Row(kind, name, "-", _shown(item), "unaccounted"))
    return rows


def _reason(entry: Entry) -> str:
    if entry.status == "provided":
        return entry.by[0]
    if entry.status == "replaced":
        return f"{', '.join(entry.by)}: {entry.why}"
    if entry.status in ("dropped", "changed") and entry.source:
        return f"{entry.why} (source: {entry.source})"
    return entry.why
