"""An inventory mapped to a spec: every item of the Dockerfile goes to a spec key, or is listed as not
mapped with the reason. The meaning of an item is knowledge where it can be: the base image's accelerator
(knowledge/accelerators.py), the torch index's wheel variant, add-ons and modalities (addons.toml,
modalities.toml), build-only and interpreter apt packages and repository names (imports.toml), pins."""

from __future__ import annotations

import re
from typing import Any

from packaging.utils import canonicalize_name

from dockyard.knowledge import accelerators as acc
from dockyard.knowledge.loader import Knowledge, imports_table
from dockyard.readback import settings
from dockyard.readback.inventory import Inventory, Item, wheel_variant
from dockyard.readback.settings import Draft, Mapped

COMPANIONS = {"torchvision": "vision", "torchaudio": "audio", "torchcodec": "video"}
INSTALLERS = {"pip", "setuptools", "wheel", "uv", "pip-tools", "virtualenv"}
def torch_request(value: str) -> str:
    """The spec's `torch` value for a requirement's specifier: `==2.14.0.*` -> 2.14, `==2.6.0` -> 2.6.0."""
    exact = re.match(r"^==\s*(\d+\.\d+(?:\.\d+)?)(?:\.\*)?(?:\+\S+)?$", value)
    if exact:
        return exact.group(1) if not value.rstrip().endswith(".*") else ".".join(exact.group(1).split(".")[:2])
    return value


def to_spec(inventory: Inventory, name: str) -> tuple[dict[str, Any], list[Mapped]]:
    """The `[image]` table for an inventory and a row for every item."""
    spec = Draft(Knowledge.load(), {"name": name})
    final = {kind: inventory.final(kind) for kind in ("packages", "extras", "system")}
    torch = final["packages"].get("torch")
    variant = wheel_variant(torch) if torch is not None else None
    base = next((i for i in inventory.items if i.kind == "base" and i.final), None)
    accel = acc.base_accelerator(base.name) if base is not None else None
    target = _target(variant, accel, final["packages"])
    spec.image["target"] = target
    spec.image["profile"] = _profile(inventory, final)
    modalities = _modalities(spec.k, final)
    if modalities:
        spec.image["modalities"] = modalities
    for item in inventory.items:
        if item.kind == "packages" and item.name == "transformers" and not item.final and "removed at" in item.detail:
            _transformers(spec, item)  # installed, then removed: the CI model, dependencies of a ref
            spec.image["transformers-install"] = "dependencies"
            spec.rows[-1] = Mapped(item, "transformers-install", "installed for its dependencies, then removed "
                                   "(the CI job installs the transformers it tests): transformers-install = "
                                   f"\"dependencies\"; {spec.rows[-1].note}")
            continue
        if not item.final and item.kind not in ("args",):
            spec.skip(item, f"not in the final image: {item.detail or 'a build stage only'}")
            continue
        _map(spec, item, target, variant, accel, modalities)
    if spec.image["profile"] == "runtime":
        del spec.image["profile"]
    return spec.image, spec.rows


def _target(variant: acc.WheelVariant | None, accel: acc.Accelerator | None, packages: dict[str, Item]) -> str:
    if "torch-xla" in packages or (accel is not None and accel.kind == "tpu"):
        return "tpu"
    kind = variant.kind if variant is not None else accel.kind if accel is not None else "cpu"
    if kind == "cpu" and accel is not None and accel.kind == "xpu":
        return "intel-cpu"  # Intel's oneAPI base with CPU wheels
    return kind if kind in ("cpu", "cuda", "rocm", "xpu") else "cpu"


def _profile(inventory: Inventory, final: dict[str, dict[str, Item]]) -> str:
    transformers = [i for i in inventory.of("packages") if i.name == "transformers"]
    removed = bool(transformers) and "transformers" not in final["packages"]
    testing = any(e.startswith("transformers[") and e[13:-1] in ("testing", "dev", "dev-torch", "quality",
                                                                 "deepspeed-testing") for e in final["extras"])
    if removed or testing or "pytest" in final["packages"]:
        return "ci"
    if any("(editable)" in i.detail for i in final["packages"].values()):
        return "dev"
    return "runtime"


def _modalities(k: Knowledge, final: dict[str, dict[str, Item]]) -> list[str]:
    """Modalities whose packages, torch companions or telling system packages the image installs."""
    runtime_of: dict[str, str] = imports_table().get("runtime_of", {})
    system = {runtime_of.get(n, n) for n in final["system"]}
    packages = set(final["packages"]) | {e.split("[")[1].rstrip("]") for e in final["extras"]
                                         if e.startswith("transformers[")}
    chosen = []
    shared = {s for m in k.modalities.values() for s in m.system
              if sum(s in o.system for o in k.modalities.values()) > 1}
    for name, modality in k.modalities.items():
        telling = set(modality.system) - shared
        if name in packages or set(modality.packages) & packages or set(modality.torch_companions) & packages \
                or telling & system:
            chosen.append(name)
    return sorted(set(chosen) | {"text"}) if chosen else []


def _map(spec: Draft, item: Item, target: str, variant: acc.WheelVariant | None, accel: acc.Accelerator | None,
         modalities: list[str]) -> None:
    mapper = {"base": _base, "python": _python, "packages": _package, "extras": _extra, "system": settings.system,
              "env": settings.env, "args": settings.arg, "user": settings.user, "entrypoint": settings.command,
              "cmd": settings.command}.get(item.kind)
    if mapper is None:
        spec.skip(item, settings.unmapped_note(item))
        return
    mapper(spec, item, target=target, variant=variant, accel=accel, modalities=modalities)


def _base(spec: Draft, item: Item, **how: Any) -> None:
    accel: acc.Accelerator | None = how["accel"]
    what = accel.describe() if accel is not None else "an image dockyard does not know"
    spec.put(item, "target", how["target"], f"{what}; resolve picks the base for the target (set `base` to "
             "force this one)")


def _python(spec: Draft, item: Item, **how: Any) -> None:
    if re.match(r"^3\.\d{1,2}$", item.name):
        spec.put(item, "python", item.name, f"from {item.detail}")
    else:
        spec.skip(item, f"{item.name!r} is not a Python minor version")


def _package(spec: Draft, item: Item, **how: Any) -> None:
    name = str(canonicalize_name(item.name)) if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", item.name) else ""
    variant: acc.WheelVariant | None = how["variant"]
    if not name:
        spec.skip(item, f"{item.detail or 'a requirement the reader cannot name'}: add it to `packages` by name")
        return
    if name == "torch":
        request = "nightly" if "nightly" in item.detail else torch_request(item.value)
        if request:
            spec.put(item, "torch", request, f"torch {item.value} from {variant.describe() if variant else 'PyPI'}")
        else:
            spec.rows.append(Mapped(item, "torch", "unpinned: resolve picks the newest torch that fits"))
        if variant is not None and variant.label and how["target"] in ("cuda", "rocm"):
            spec.image["variant"] = variant.label
        return
    if name in COMPANIONS:
        spec.rows.append(Mapped(item, "modalities", f"paired with torch by the {COMPANIONS[name]} modality"))
        spec.image.setdefault("modalities", [])
        if COMPANIONS[name] not in spec.image["modalities"]:
            spec.image["modalities"] = sorted({*spec.image["modalities"], COMPANIONS[name], "text"})
        return
    if name == "torch-xla":
        spec.rows.append(Mapped(item, "target", "target = \"tpu\" installs torch_xla paired with torch"))
        return
    if name == "transformers":
        _transformers(spec, item)
        return
    if name in INSTALLERS:
        spec.skip(item, "an installer: dockyard's venv brings its own pip")
        return
    addon = next((a for a in spec.k.addons.values() if name in (a.name, str(canonicalize_name(a.pip or a.name)))),
                 None)
    if addon is not None:
        spec.put(item, "addons", [addon.name + _addon_pin(item)], _addon_note(addon.name, item))
        return
    for modality, row in spec.k.modalities.items():
        if name in row.packages and modality in spec.image.get("modalities", []):
            spec.rows.append(Mapped(item, "modalities", f"the {modality} modality installs and pins it"))
            return
    if "://" in item.value or item.value.startswith("git+"):
        spec.skip(item, f"installed from {item.value}: add `{name} @ URL#sha256=...` (an archive with its hash) "
                  "to packages with allow-direct-references, or a release by name")
        return
    python = spec.image.get("python") or "3.12"
    pin = spec.k.pin(name, python)
    if item.value:
        requirement, note = f"{name}{item.value}", "as the original asks"
    elif pin is not None:
        requirement, note = f"{name}=={pin['version']}", f"pinned from knowledge/pins.toml (Python {python})"
    else:
        requirement, note = name, "unpinned: knowledge/pins.toml does not know it (`dockyard lock` pins it)"
    spec.put(item, "packages", [requirement], note)


def _addon_pin(item: Item) -> str:
    exact = re.match(r"^==\s*([\w.+-]+)$", item.value)
    return f"=={exact.group(1)}" if exact else ""


def _addon_note(name: str, item: Item) -> str:
    flags = sorted(set(re.findall(r"\b(DS_BUILD_[A-Z_]+)=1\b", item.detail)))
    built = f"; the original builds {', '.join(flags)}, as the add-on's build does" if flags else ""
    return f"a known add-on: dockyard installs (and where needed compiles) it with its tested recipe{built}"


def _transformers(spec: Draft, item: Item) -> None:
    value = item.value
    ref = re.search(r"@([A-Za-z0-9._/-]+?)(?:#|$)", value.split("://", 1)[-1]) if "://" in value else None
    if value == "the build context":
        spec.skip(item, "the build context's source tree: the `transformers` key installs a release or a ref")
    elif "://" in value and ref is None:
        spec.put(item, "transformers", "main", f"the default branch of {value}")
    elif value.startswith("=="):
        spec.put(item, "transformers", value[2:], "the release the original installs")
    elif ref is not None:
        wanted = ref.group(1)
        shown = wanted if wanted == "main" else f"git:{wanted}" if re.match(r"^[0-9a-f]{7,40}$", wanted) else wanted
        spec.put(item, "transformers", shown, f"the git ref the original installs ({value})")
    elif value:
        spec.put(item, "transformers", value, "as the original asks")
    else:
        spec.rows.append(Mapped(item, "transformers", "unpinned: resolve picks the newest that fits"))
    if "(editable)" in item.detail:
        spec.rows[-1] = Mapped(item, spec.rows[-1].key, spec.rows[-1].note + "; editable in the original (a dev "
                               "checkout): the image gets an installed copy")


def _extra(spec: Draft, item: Item, **how: Any) -> None:
    package, _, extra = item.name.partition("[")
    extra = extra.rstrip("]")
    if package != "transformers":
        spec.skip(item, f"an extra of {package}: write `{package}[{extra}]` in packages if you keep {package}")
        return
    modalities = spec.image.get("modalities", [])
    if extra in spec.k.modalities and extra in modalities:
        spec.rows.append(Mapped(item, "modalities", f"the {extra} modality brings what the extra installs"))
        return
    spec.put(item, "extras", [extra], "a transformers extra")


