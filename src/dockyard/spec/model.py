"""ImageSpec: what a user may ask for. Load a TOML spec or a preset, validate it, explain mistakes.

A spec is a TOML file with an `[image]` table (keys below) and an optional `[preset]` table of
metadata. `extends = "PRESET-or-FILE"` starts from another spec and overrides its keys (lists are
replaced, `env` is merged). Every error names the file, the key and the value, and says what to do.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import SpecError
from dockyard.spec.fields import ENV_NAME, FIELDS, MAX_EXTENDS, TARGETS, TOP_LEVEL
from dockyard.spec.grammar import brief, check_values, confine
from dockyard.spec.references import image_reference
from dockyard.spec.secrets import looks_secret, refuse_secret_value
from dockyard.spec.serve import ServeSpec, parse_serve
from dockyard.spec.servepaths import check_cache_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

@dataclass(frozen=True)
class ImageSpec:
    """A validated spec. Unset optional keys are None (resolve decides them)."""

    name: str
    target: str
    profile: str = "runtime"
    description: str = ""
    python: str | None = None
    torch: str | None = None
    variant: str | None = None
    transformers: str | None = None
    transformers_install: str = "package"
    addons: tuple[str, ...] = ()
    modalities: tuple[str, ...] = ("text",)
    extras: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    system_packages: tuple[str, ...] = ()
    apt_archives: tuple[str, ...] = ()
    gpu_archs: tuple[str, ...] = ()
    base: str | None = None
    user: str = "dockyard"
    slim: bool | None = None
    bytecode: str = "loaded"
    runtime_toolchain: bool = False  # the final image keeps what compiles add-on ops (JIT builds at run time)
    lock: str | None = None  # not part of the digest: a lock records the digest of the spec it pins
    allow_direct_references: bool = False  # not part of the digest: packages (which are) say what it allowed
    files: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ("python",)
    env: tuple[tuple[str, str], ...] = ()
    source: str = "<spec>"  # file path or "preset NAME", for messages
    root: str = "."  # directory that `files` are relative to
    preset: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    serve: ServeSpec | None = None  # the [serve] table; set exactly when profile == "serve"

    def digest(self) -> str:
        """sha256 of the spec's content (not of where it came from): the same request, the same digest."""
        data = {k: v for k, v in asdict(self).items()
                if k not in ("source", "root", "preset", "lock", "allow_direct_references", "serve")}
        if self.transformers_install == "package":  # the default leaves digests of earlier specs unchanged
            del data["transformers_install"]
        if not self.runtime_toolchain:  # as above
            del data["runtime_toolchain"]
        if not self.apt_archives:  # as above
            del data["apt_archives"]
        if self.serve is not None:  # as written, not where the spec lies
            data["serve"] = self.serve.to_toml_dict()
        blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return "sha256:" + hashlib.sha256(blob).hexdigest()

    def to_toml_dict(self) -> dict[str, Any]:
        """The spec as the `[image]` keys a file would carry (defaults left out)."""
        out: dict[str, Any] = {}
        for key in FIELDS:
            attr = key.replace("-", "_")
            if key == "extends":
                continue
            value = getattr(self, attr)
            if key == "env":
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            if value in (None, "", [], {}) or (key == "transformers-install" and value == "package") \
                    or (key in ("allow-direct-references", "runtime-toolchain") and not value):
                continue
            out[key] = value
        return out


def suggest(value: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"? ' if close else ""


def _where(source: str, key: str) -> str:
    return f"{source}: [image].{key}"


def _check_type(source: str, key: str, value: Any, kind: str) -> None:
    where = _where(source, key)
    if kind == "string" and not isinstance(value, str):
        raise SpecError(f"{where} must be a string, got {type(value).__name__} {value!r}",
                        f'write it in quotes, e.g. {key} = "{value}"')
    if kind == "bool" and not isinstance(value, bool):
        raise SpecError(f"{where} must be true or false, got {value!r}")
    if kind == "strings":
        if isinstance(value, str):
            raise SpecError(f"{where} must be a list of strings, got the string {value!r}",
                            f'write {key} = ["{value}"]')
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SpecError(f"{where} must be a list of strings, got {value!r}")
    if kind == "env":
        if not isinstance(value, dict):
            raise SpecError(f"{where} must be a table of NAME = \"value\", got {value!r}",
                            "write it as [image.env] with one NAME = \"value\" per line")
        for name, item in value.items():
            if not isinstance(item, str):
                raise SpecError(f"{where}.{name} must be a string, got {item!r}",
                                f'quote it: {name} = "{item}"')


ARCH_CUDA = re.compile(r"^\d{1,2}\.\d[af]?(\+PTX)?$")
ARCH_ROCM = re.compile(r"^gfx[0-9a-f]{3,4}$")
PYTHON_VERSION = re.compile(r"^3\.\d{1,2}$")
IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")  # one path component of an image reference


def _validate_values(source: str, data: dict[str, Any]) -> None:
    for key, spec_field in FIELDS.items():
        if key not in data or not spec_field.choices:
            continue
        values = data[key] if isinstance(data[key], list) else [data[key]]
        for value in values:
            if value not in spec_field.choices:
                raise SpecError(
                    f'{_where(source, key)}: unknown value "{value}"',
                    f"{suggest(value, spec_field.choices)}choose from: {', '.join(spec_field.choices)}",
                )
    python = data.get("python")
    if python is not None and not PYTHON_VERSION.match(python):
        raise SpecError(f'{_where(source, "python")}: "{python}" is not a Python minor version',
                        'write the minor version only, e.g. python = "3.11"')
    for arch in data.get("gpu-archs", []):
        if not (ARCH_CUDA.match(arch) or ARCH_ROCM.match(arch)):
            raise SpecError(f'{_where(source, "gpu-archs")}: "{arch}" is not a GPU arch',
                            'use compute capabilities like "8.0", "9.0a", "12.0+PTX" for cuda, '
                            'or gfx targets like "gfx942" for rocm')
    for name, value in data.get("env", {}).items():
        if not ENV_NAME.match(name):
            raise SpecError(f"{_where(source, 'env')}: {name!r} is not a valid environment variable name")
        if looks_secret(name):
            raise SpecError(
                f"{_where(source, 'env')}: {name} looks like a secret; secrets must never be baked into an "
                "image (every layer and `docker inspect` would show it)",
                f"pass it at run time (`docker run -e {name}`) or at build time with "
                f"`dockyard build --secret id={name.lower()},env={name}`",
            )
        if "\n" in value:
            raise SpecError(f"{_where(source, 'env')}.{name}: values may not contain newlines")
        refuse_secret_value(value, f"{_where(source, 'env')}.{name}")
    if data.get("base"):
        image_reference(data["base"], _where(source, "base"))
    if data.get("transformers-install") == "dependencies" and data.get("profile", "runtime") != "ci":
        raise SpecError(f'{_where(source, "transformers-install")} = "dependencies" is for CI images: the job '
                        f'installs the transformers it tests, and profile is "{data.get("profile", "runtime")}"',
                        'set profile = "ci", or transformers-install = "package" for an image that runs models')
    user = data.get("user")
    if user is not None and not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", user):
        raise SpecError(f'{_where(source, "user")}: "{user}" is not a valid user name',
                        'use a lowercase name such as "dockyard", or "root" (not recommended)')
    for key in ("packages", "system-packages", "apt-archives", "extras", "addons", "exclude", "files"):
        for value in data.get(key, []):
            if not value.strip() or any(c in value for c in "\n\r\t") or value.startswith("-"):
                raise SpecError(f"{_where(source, key)}: {value!r} is not a valid entry",
                                "options such as --index-url are not allowed here; dockyard sets indexes itself")
    for value in data.get("system-packages", []):
        if not re.match(r"^[a-z0-9][a-z0-9+.:=~-]*$", value):
            raise SpecError(f"{_where(source, 'system-packages')}: {value!r} is not an apt package name")
    name = data.get("name")
    if name and not IMAGE_NAME.match(name):
        fixed = name_from_stem(name)
        raise SpecError(f"{_where(source, 'name')}: {name!r} is not a valid image name (it becomes the tag "
                        f"dockyard/NAME)", "use lowercase letters and digits separated by '.', '_' or '-', "
                        f'e.g. name = "{fixed if fixed != "image" else "my-image"}"')
    check_values(source, data)
    for key, value in data.items():  # a control character (NUL, ESC, ...) would corrupt the Dockerfile
        texts = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else [value]
        for text in (t for t in texts if isinstance(t, str)):
            bad = next((c for c in text if unicodedata.category(c) == "Cc"), None)
            if bad is not None:
                raise SpecError(f"{_where(source, key)}: {text!r} contains the control character U+{ord(bad):04X}",
                                "remove it")
            refuse_secret_value(text, _where(source, key))  # every string lands in a label, a layer or a log


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML: {exc}",
                        "check quoting and brackets; strings need double quotes, lists square brackets") from None
    except RecursionError:
        raise SpecError(f"{source}: arrays or tables nested too deeply to read",
                        "a spec needs at most two levels: [image] and [image.env]") from None


def spec_from_dict(document: Mapping[str, Any], source: str, default_name: str, root: str = ".",
                   loader: Any = None) -> ImageSpec:
    """Validate a parsed TOML document. `loader(ref, source)` loads what `extends` names."""
    unknown_top = [k for k in document if k not in TOP_LEVEL]
    if unknown_top:
        key = unknown_top[0]
        raise SpecError(f"{source}: unknown table or key {key!r} at the top level",
                        f"{suggest(key, list(TOP_LEVEL))}spec keys go under [image]")
    image = document.get("image")
    if image is None:
        raise SpecError(f"{source}: no [image] table", 'start the file with [image] and target = "cpu"')
    if not isinstance(image, dict):
        raise SpecError(f"{source}: image must be a table ([image]), got {image!r}")
    preset_meta = document.get("preset", {})
    if not isinstance(preset_meta, dict):
        raise SpecError(f"{source}: preset must be a table ([preset])")
    for key in image:
        if key not in FIELDS:
            raise SpecError(f"{_where(source, key)}: unknown key",
                            f"{suggest(key, list(FIELDS))}known keys: {', '.join(FIELDS)}")
    for key, value in image.items():
        _check_type(source, key, value, FIELDS[key].kind)

    data: dict[str, Any] = dict(image)
    inherited: ServeSpec | None = None
    preset_parent = ""
    if "extends" in data:
        if loader is None:
            raise SpecError(f"{_where(source, 'extends')}: extends is not supported here")
        parent: ImageSpec = loader(data.pop("extends"), source)
        # A spec file's [serve] names the model its author chose and is inherited whole; a preset's names
        # none (cpu-serve's mount:/models/model only makes the preset buildable alone), so a spec that
        # extends a preset writes its own.
        preset_parent = parent.source.removeprefix("preset ") if parent.source.startswith("preset ") else ""
        inherited = None if preset_parent else parent.serve
        merged = parent.to_toml_dict()
        merged.pop("name", None)
        env = {**merged.get("env", {}), **data.get("env", {})}
        merged.update(data)
        if env:
            merged["env"] = env
        data = merged
    if "target" not in data:
        raise SpecError(f"{_where(source, 'target')} is required",
                        f"add target = \"cpu\" (one of: {', '.join(TARGETS)})")
    _validate_values(source, data)
    serve = _serve_table(document, data.get("profile", "runtime"), source, root, inherited, preset_parent)
    if serve is not None and "HF_HOME" in data.get("env", {}):  # the cache volume's mount point
        check_cache_path(data["env"]["HF_HOME"], serve.model.container_path, f"{_where(source, 'env')}.HF_HOME")

    def strings(key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        values = data.get(key)
        return tuple(dict.fromkeys(values)) if values is not None else default

    def optional(key: str) -> str | None:
        value = data.get(key)
        return value if value else None

    return ImageSpec(
        name=data.get("name") or default_name,
        target=data["target"],
        profile=data.get("profile", "runtime"),
        description=data.get("description", ""),
        python=optional("python"),
        torch=optional("torch"),
        variant=optional("variant"),
        transformers=optional("transformers"),
        transformers_install=data.get("transformers-install", "package"),
        addons=strings("addons"),
        modalities=strings("modalities", ("text",)),
        extras=strings("extras"),
        packages=strings("packages"),
        exclude=strings("exclude"),
        system_packages=strings("system-packages"),
        apt_archives=strings("apt-archives"),
        gpu_archs=strings("gpu-archs"),
        base=optional("base"),
        user=data.get("user", "dockyard"),
        slim=data.get("slim"),
        bytecode=data.get("bytecode", "loaded"),
        runtime_toolchain=data.get("runtime-toolchain", False),
        lock=optional("lock"),
        allow_direct_references=data.get("allow-direct-references", False),
        files=strings("files"),
        entrypoint=strings("entrypoint"),
        cmd=strings("cmd", ("python",)),
        env=tuple(sorted(data.get("env", {}).items())),
        source=source,
        root=root,
        preset=tuple(sorted((k, str(v)) for k, v in preset_meta.items())),
        serve=serve,
    )


def _serve_table(document: Mapping[str, Any], profile: str, source: str, root: str,
                 inherited: ServeSpec | None, preset_parent: str = "") -> ServeSpec | None:
    """The [serve] table: required by profile = "serve" (or inherited whole from the spec file `extends`
    names; never from a preset), refused with any other profile."""
    if profile == "serve":
        if "serve" not in document and inherited is not None:
            return inherited
        if "serve" not in document:
            why = (f' (extends = "{preset_parent}" is a preset: its [serve] is a placeholder, not inherited)'
                   if preset_parent else "")
            raise SpecError(f"{source}: profile = \"serve\" needs a [serve] table naming the model{why}",
                            'add [serve] with model = "path:DIR", "hub:ORG/NAME@REVISION" or "mount:/models/NAME"')
        return parse_serve(document["serve"], source, root)
    if "serve" in document:
        raise SpecError(f"{source}: a [serve] table needs profile = \"serve\" (the profile is \"{profile}\")",
                        'set profile = "serve" in [image], or remove [serve]')
    return None


def name_from_stem(stem: str) -> str:
    """A valid image name (IMAGE_NAME) made from any text: lowercase, other characters and separator runs
    docker refuses (`..`, `_-`, `___`) become one '-', no separator at either end."""
    name = re.sub(r"[^a-z0-9._-]+", "-", stem.lower())
    name = re.sub(r"[._-]{2,}", lambda m: m.group(0) if re.fullmatch(r"__|-+", m.group(0)) else "-", name)
    name = name.strip("-._")
    return name if IMAGE_NAME.match(name) else "image"


def load_file(path: Path, loader: Any = None) -> ImageSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read: {exc}") from None
    document = parse_toml(text, str(path))
    spec = spec_from_dict(document, str(path), name_from_stem(path.stem), str(path.parent.resolve()), loader)
    for key, entries in (("files", spec.files), ("lock", (spec.lock,) if spec.lock else ())):
        for entry in entries:
            _, problem = confine(Path(spec.root), entry)
            if problem:
                raise SpecError(f"{_where(spec.source, key)} = {brief(entry)}: {problem}",
                                "keep the files in the spec's folder (links too must point inside it), as "
                                "docker's build context does")
    return spec


def _is(test: Any, path: Path) -> bool:
    """path.exists() or path.is_file(), False for a name the system refuses (too long, ...)."""
    try:
        return bool(test())
    except (OSError, ValueError):
        return False


def load(ref: str) -> ImageSpec:
    """A spec from a file path or a preset name."""
    return _load(ref, "the command line", ())


def _load(ref: str, origin: str, chain: tuple[str, ...]) -> ImageSpec:
    from dockyard.knowledge.loader import preset_dir, preset_names

    if ref in chain:
        raise SpecError(f"{origin}: extends {ref!r} again: {' -> '.join((*chain, ref))} is a cycle")
    if len(chain) >= MAX_EXTENDS:
        raise SpecError(f"{origin}: extends {ref!r}: a chain of more than {MAX_EXTENDS} specs "
                        f"({chain[0]} -> {chain[1]} -> ... -> {ref})",
                        "extend a preset or one shared spec directly instead of a long chain")

    def loader(parent: str, source: str) -> ImageSpec:
        return _load(parent, source, (*chain, ref))

    path = Path(ref)
    if chain and not path.is_absolute() and not origin.startswith("preset ") and (path.suffix == ".toml" or "/" in ref):
        path = Path(origin).parent / path  # a file that `extends` names is relative to the spec naming it
    names = preset_names()
    # what `extends` names is reported where it is written
    where = f"{_where(origin, 'extends')} = {ref!r}: " if chain else ""
    looks_like_path = path.suffix == ".toml" or "/" in ref or _is(path.exists, path)
    if looks_like_path:
        if not _is(path.is_file, path):
            hint = f"{suggest(path.stem, names)}presets: {', '.join(names)}" if path.stem else None
            raise SpecError(f"{where}{ref}: no such spec file", hint)
        return load_file(path, loader)
    if ref in names:
        preset = preset_dir() / f"{ref}.toml"
        document = parse_toml(preset.read_text(encoding="utf-8"), f"preset {ref}")
        return spec_from_dict(document, f"preset {ref}", ref, ".", loader)
    raise SpecError(f"{where}{ref!r} is neither a spec file nor a preset",
                    f"{suggest(ref, names)}presets: {', '.join(names)} (`dockyard presets` describes them)")
