"""The keys a spec may hold: the `[image]` table's FIELDS (type, default, meaning, allowed values), the
other top-level tables, and the JSON Schema of a spec file built from them. Validation (model), the docs
(docsgen) and `dockyard schema` all read this one table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dockyard.spec.serve import serve_schema

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TARGETS = ("cpu", "intel-cpu", "cuda", "rocm", "xpu", "tpu")
PROFILES = ("runtime", "dev", "ci", "serve")
MODALITIES = ("text", "vision", "audio", "video", "ocr", "phonemes")
BYTECODE = ("loaded", "all", "none")
TRANSFORMERS_INSTALL = ("package", "dependencies")


@dataclass(frozen=True)
class Field:
    """One key of the `[image]` table: its TOML type, default and meaning (the schema and docs use it)."""

    kind: str  # string | strings | bool | env
    description: str
    default: Any = None
    choices: tuple[str, ...] = ()
    required: bool = False


FIELDS: dict[str, Field] = {
    "name": Field("string", "Image name (also the default tag).", "file stem"),
    "description": Field("string", "One line saying what the image is for.", ""),
    "extends": Field("string", "A preset name or spec path to start from; keys here override it.", ""),
    "target": Field("string", "Hardware target.", choices=TARGETS, required=True),
    "profile": Field("string", "runtime (slim, for running models), dev (compilers, editable transformers), "
                     "ci (test extras, as transformers' CI images) or serve (runtime plus transformers' "
                     "OpenAI-compatible server for the [serve] table's model).", "runtime", PROFILES),
    "python": Field("string", 'Python minor version, e.g. "3.11".',
                    "newest that torch, transformers and every add-on support"),
    "torch": Field("string", 'torch release: "2.6", "2.6.0", a specifier ">=2.5,<2.7", "nightly", or "none" '
                   '(cpu only: an image without torch, e.g. for code-quality checks).',
                   "newest known compatible"),
    "variant": Field("string", "Wheel variant: cpu, cu126, cu130, rocm6.2.4, xpu ...", "chosen for the target"),
    "transformers": Field("string", 'A version or specifier, "main", or "git:<sha-or-tag>".',
                          "newest known compatible"),
    "transformers-install": Field("string", "package (install transformers) or dependencies (ci profile: install "
                                  "what transformers at that version or ref needs, with its extras, then leave "
                                  "transformers itself to the CI job, which installs the branch it tests).",
                                  "package", TRANSFORMERS_INSTALL),
    "addons": Field("strings", 'Add-ons, e.g. "deepspeed", "flash-attn", "bitsandbytes"; "name==version" '
                    'pins one, "name@ref" builds a source add-on at a commit.', []),
    "modalities": Field("strings", "Modalities; each brings its system and Python packages.", ["text"],
                        MODALITIES),
    "extras": Field("strings", "transformers extras, e.g. sentencepiece, testing.", []),
    "packages": Field("strings", 'Extra pip requirements, e.g. "einops==0.8.2". A direct reference '
                      '("name @ URL") needs allow-direct-references.', []),
    "allow-direct-references": Field("bool", "Allow direct references in packages (name @ https://...); each "
                                     "must carry its archive's hash (#sha256=...).", False),
    "exclude": Field("strings", "Packages a modality, extra or preset would bring that must not be in the image: "
                     "left out of what dockyard installs, and removed after the dependency check when another "
                     "package pulls one in anyway (verify then checks it is absent).", []),
    "system-packages": Field("strings", "Extra apt packages for the final image.", []),
    "apt-archives": Field("strings", 'Third-party apt archives the knowledge base knows, added before the system '
                          'packages are installed, e.g. ["intel-graphics"] for Intel\'s GPU runtime on xpu '
                          '(knowledge/targets.toml [archive]).', []),
    "gpu-archs": Field("strings", 'What extensions compile for and the wheels must cover: ["8.0", "9.0"] '
                       'for cuda, ["gfx942"] for rocm.', "per knowledge"),
    "base": Field("string", "Explicit base image for the final stage (skips the automatic choice): one image "
                  "reference, NAME[:TAG][@DIGEST].",
                  "chosen by resolve"),
    "user": Field("string", 'Runtime user; "root" is allowed with a warning.', "dockyard"),
    "slim": Field("bool", "Drop what is never needed at run time (pip, setuptools, torch headers and tests, "
                  "static libraries, libraries' symbol tables, Debian files nothing links such as the GPU "
                  "drivers ffmpeg pulls in); a serve image's final stage also starts from scratch on its base "
                  "without apt, perl, shell and admin tools or documentation (knowledge/serve.toml).",
                  "true for the runtime, serve and ci profiles"),
    "runtime-toolchain": Field("bool", "Keep the toolchain that compiles add-on ops in the final image, for add-ons "
                               "that compile ops at run time (DeepSpeed's JIT op builds): the builder's base image "
                               "(CUDA devel with nvcc, rocm/dev with hipcc), build-essential, each compiling add-on's "
                               "build packages (libaio-dev), torch's and Python's headers, and the arch list of "
                               "gpu-archs as TORCH_CUDA_ARCH_LIST (PYTORCH_ROCM_ARCH). Off: compilers stay in the "
                               "builder stage and only prebuilt ops run; on costs the size of the devel base.", False),
    "bytecode": Field("string", "Which bytecode to keep: loaded (what an import and a tiny model run load), "
                      "all, or none.", "loaded", BYTECODE),
    "lock": Field("string", "A lock file made by `dockyard lock` (relative to the spec): install exactly its "
                  "packages, each checked against its hashes (pip --require-hashes).", ""),
    "files": Field("strings", "Files or folders (relative to the spec) copied into /app; the last layers.", []),
    "entrypoint": Field("strings", "Exec-form entrypoint after the init (tini).", []),
    "cmd": Field("strings", "Default command.", ["python"]),
    "env": Field("env", "Extra environment variables (never secrets: names that look secret, and values shaped "
                 "like tokens, keys or URLs with a password, are refused). Values are literal: `$HOME` is not "
                 "expanded.", {}),
}

PRESET_KEYS = ("description", "reproduces", "changes", "build-here")
MAX_EXTENDS = 16  # specs in one `extends` chain
# [fidelity]: a preset's record of its original (knowledge/fidelity.py); [serve]: the model a serve image serves
TOP_LEVEL = ("image", "preset", "fidelity", "serve")


def json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a spec file, for editors (`dockyard schema`)."""
    properties: dict[str, Any] = {}
    for key, spec_field in FIELDS.items():
        prop: dict[str, Any]
        if spec_field.kind == "string":
            prop = {"type": "string"}
            if spec_field.choices:
                prop["enum"] = list(spec_field.choices)
        elif spec_field.kind == "bool":
            prop = {"type": "boolean"}
        elif spec_field.kind == "strings":
            items: dict[str, Any] = {"type": "string"}
            if spec_field.choices:
                items["enum"] = list(spec_field.choices)
            prop = {"type": "array", "items": items, "uniqueItems": True}
        else:
            prop = {"type": "object", "additionalProperties": {"type": "string"},
                    "propertyNames": {"pattern": ENV_NAME.pattern}}
        prop["description"] = spec_field.description
        if spec_field.default not in (None, "", [], {}):
            prop["default"] = spec_field.default
        properties[key] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://dockyard.dev/schema/spec.json",
        "title": "dockyard image spec",
        "type": "object",
        "additionalProperties": False,
        "required": ["image"],
        "properties": {
            "image": {
                "type": "object",
                "additionalProperties": False,
                "properties": properties,
                "anyOf": [{"required": ["target"]}, {"required": ["extends"]}],
            },
            "preset": {
                "type": "object",
                "description": "Metadata of a preset (what it reproduces, what it changes).",
                "properties": {k: {"type": "string"} for k in PRESET_KEYS},
            },
            "fidelity": {
                "type": "object",
                "description": "A preset's record of its original image: every item kept, replaced, dropped "
                               "or added, with the reason (docs/presets.md shows it).",
            },
            "serve": serve_schema(),
        },
    }
