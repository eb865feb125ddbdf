"""The `[serve]` table of a spec: which model a `profile = "serve"` image serves, and how.

```toml
[serve]
model = "path:tiny-llama"        # or "hub:ORG/NAME@REVISION", or "mount:/models/NAME"
fetch = "build"                  # hub: models: "start" downloads at each start into a volume instead
port = 8000
device = "cpu"                   # default: the target's device (knowledge/targets.toml)
dtype = "bfloat16"
quantization = "bnb-4bit"        # needs the bitsandbytes add-on
continuous-batching = true
trust-remote-code = false
grace-seconds = 30
```

The server is transformers' own `transformers serve`; dockyard bakes or mounts the model around it.
Every error names the file and the key (`[serve].KEY`) and says what to do.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dockyard.errors import SpecError
from dockyard.spec.modelfolder import ModelFolder, walk_model
from dockyard.spec.references import git_ref
from dockyard.spec.secrets import refuse_secret_value
from dockyard.spec.servepaths import check_mount_path

HEALTH_PATH = "/health"
BAKED_MODEL_PATH = "/opt/model"  # where a path: or hub: model lies inside the image
MODEL_KINDS = ("path", "hub", "mount")
DEVICES = ("cpu", "cuda", "xpu", "hpu", "mps", "npu", "auto")
DTYPES = ("auto", "bfloat16", "float16", "float32")
QUANTIZATIONS = ("bnb-4bit", "bnb-8bit")
FETCH_WHEN = ("build", "start")  # when a hub: model is downloaded: into the image, or into a volume at start
COMMIT = re.compile(r"^[0-9a-f]{40}$")
HUB_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


@dataclass(frozen=True)
class ServeModel:
    """The model a serve image answers with."""

    kind: str  # "path" | "hub" | "mount"
    ref: str  # path: as written in the spec; hub: "ORG/NAME"; mount: "/models/NAME" (absolute, in the container)
    revision: str | None = None  # hub only: the revision after '@'
    path: Path | None = None  # path only: the folder resolved against the spec's folder
    root: Path | None = None  # path only: the folder of the spec that names the model (it stays inside it)
    folder: ModelFolder | None = field(default=None, compare=False, repr=False)  # path only: what is copied
    fetch: str = "build"  # hub only: "start" leaves the weights out of the image; a fetch step fills a volume

    @property
    def container_path(self) -> str:
        """Where the server finds the model inside the container: path: and hub: models at /opt/model (in the
        image, or the volume a fetch at start fills)."""
        return self.ref if self.kind == "mount" else BAKED_MODEL_PATH

    @property
    def baked(self) -> bool:
        """True when the model lies in the image (path:, and hub: fetched at build time)."""
        return self.kind == "path" or (self.kind == "hub" and self.fetch == "build")

    @property
    def fetched_at_start(self) -> bool:
        """A hub: model downloaded into a volume by a step that runs the image before the server starts."""
        return self.kind == "hub" and self.fetch == "start"

    @property
    def pinned(self) -> bool:
        """A hub model pinned to a full commit is reproducible; path: and mount: models are what they are."""
        return self.kind != "hub" or bool(self.revision and COMMIT.match(self.revision))

    def spelled(self) -> str:
        """The model as a spec writes it."""
        revision = f"@{self.revision}" if self.revision else ""
        return f"{self.kind}:{self.ref}{revision}"


@dataclass(frozen=True)
class ServeSpec:
    """A validated `[serve]` table."""

    model: ServeModel
    port: int = 8000
    device: str | None = None  # None: the target's default (cpu, cuda, rocm->cuda, xpu ...), from knowledge
    dtype: str | None = None
    quantization: str | None = None  # "bnb-4bit" | "bnb-8bit"
    continuous_batching: bool = False
    trust_remote_code: bool = False
    grace_seconds: int = 30  # stop grace period (compose stop_grace_period, k8s terminationGracePeriodSeconds)

    def to_toml_dict(self) -> dict[str, Any]:
        """The table as a spec file would carry it (defaults left out, the model as written)."""
        out: dict[str, Any] = {"model": self.model.spelled()}
        if self.model.fetch != "build":
            out["fetch"] = self.model.fetch
        if self.port != 8000:
            out["port"] = self.port
        for key, value in (("device", self.device), ("dtype", self.dtype), ("quantization", self.quantization)):
            if value:
                out[key] = value
        if self.continuous_batching:
            out["continuous-batching"] = True
        if self.trust_remote_code:
            out["trust-remote-code"] = True
        if self.grace_seconds != 30:
            out["grace-seconds"] = self.grace_seconds
        return out


@dataclass(frozen=True)
class ServeKey:
    """One key of the `[serve]` table (the schema and docs use it)."""

    kind: str  # string | int | bool
    description: str
    default: Any = None
    choices: tuple[str, ...] = ()
    required: bool = False


SERVE_FIELDS: dict[str, ServeKey] = {
    "model": ServeKey("string", '"path:DIR" (a folder relative to the spec, baked into its own layer), '
                      '"hub:ORG/NAME@REVISION" (downloaded at build time; the token only as the BuildKit secret '
                      'hf_token) or "mount:/models/NAME" (nothing in the image; mounted at run time).',
                      required=True),
    "fetch": ServeKey("string", 'When a hub: model is downloaded: "build" (into the image) or "start" (no weights in '
                      "the image: a step running the same image downloads the pinned revision into a volume before "
                      "the server starts; the server then runs with the Hub offline).", "build", FETCH_WHEN),
    "port": ServeKey("int", "Port the server listens on (EXPOSEd).", 8000),
    "device": ServeKey("string", "Device the server loads the model on.", "the target's device", DEVICES),
    "dtype": ServeKey("string", "dtype the model is loaded in.", "auto", DTYPES),
    "quantization": ServeKey("string", "bitsandbytes quantization (needs the bitsandbytes add-on).", "",
                             QUANTIZATIONS),
    "continuous-batching": ServeKey("bool", "Let the server batch concurrent requests continuously.", False),
    "trust-remote-code": ServeKey("bool", "Run the model's own code (config.json auto_map); off unless you trust "
                                  "it.", False),
    "grace-seconds": ServeKey("int", "Stop grace period in seconds (docker stop -t, compose stop_grace_period, "
                              "Kubernetes terminationGracePeriodSeconds).", 30),
}


def suggest(value: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"? ' if close else ""


def _where(source: str, key: str) -> str:
    return f"{source}: [serve].{key}"


def parse_model(value: str, source: str, root: str) -> ServeModel:
    """`path:DIR`, `hub:ORG/NAME@REV` or `mount:/models/NAME`; a path: folder is walked here (modelfolder)."""
    where = _where(source, "model")
    refuse_secret_value(value, where)
    kind, sep, rest = value.partition(":")
    if not sep or kind not in MODEL_KINDS or not rest:
        raise SpecError(f'{where} = "{value}": not a model reference',
                        'write "path:DIR" (a folder next to the spec), "hub:ORG/NAME@REVISION" or '
                        '"mount:/models/NAME"')
    if kind == "path":
        folder = walk_model(Path(root), rest, f'{where} = "{value}"')
        return ServeModel("path", rest, path=folder.path, root=folder.root, folder=folder)
    if kind == "hub":
        repo, at, revision = rest.partition("@")
        if not HUB_REPO.match(repo) or ".." in repo or "--" in repo or (at and not revision):
            raise SpecError(f'{where} = "{value}": "{repo}" is not a Hub repository',
                            'write hub:ORG/NAME@REVISION, e.g. hub:openai-community/gpt2@<40-hex commit>')
        if revision:
            if len(revision) > 200:
                raise SpecError(f"{where}: the revision has {len(revision)} characters", "a revision has at most 200")
            git_ref(revision, f'{where} = "{value}": the revision')
        return ServeModel("hub", repo, revision=revision or None)
    return ServeModel("mount", check_mount_path(rest, f'{where} = "{value}": the path'))


def parse_serve(table: Any, source: str, root: str) -> ServeSpec:
    """Validate a `[serve]` table (its cross-checks with [image] live in resolve)."""
    if not isinstance(table, dict):
        raise SpecError(f"{source}: serve must be a table ([serve]), got {table!r}")
    for key, value in table.items():
        if key not in SERVE_FIELDS:
            raise SpecError(f"{_where(source, key)}: unknown key",
                            f"{suggest(key, list(SERVE_FIELDS))}known keys: {', '.join(SERVE_FIELDS)}")
        field = SERVE_FIELDS[key]
        if field.kind == "string" and not isinstance(value, str):
            raise SpecError(f"{_where(source, key)} must be a string, got {value!r}",
                            f'write it in quotes, e.g. {key} = "{value}"')
        if field.kind == "bool" and not isinstance(value, bool):
            raise SpecError(f"{_where(source, key)} must be true or false, got {value!r}")
        if field.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise SpecError(f"{_where(source, key)} must be a whole number, got {value!r}",
                            f"write it without quotes, e.g. {key} = {field.default}")
        if field.choices and value not in field.choices:
            raise SpecError(f'{_where(source, key)}: unknown value "{value}"',
                            f"{suggest(str(value), field.choices)}choose from: {', '.join(field.choices)}")
    if "model" not in table:
        raise SpecError(f"{_where(source, 'model')} is required",
                        'add model = "path:DIR" (a folder next to the spec), "hub:ORG/NAME@REVISION" or '
                        '"mount:/models/NAME"')
    port = table.get("port", 8000)
    if not 1 <= port <= 65535:
        raise SpecError(f"{_where(source, 'port')} = {port}: out of range", "use a port from 1 to 65535, e.g. 8000")
    fetch = table.get("fetch", "build")
    if fetch == "start" and not str(table["model"]).startswith("hub:"):
        raise SpecError(f'{_where(source, "fetch")} = "start": only a hub: model is downloaded',
                        'a path: model is copied into the image and a mount: model is mounted: leave fetch out, or '
                        'use model = "hub:ORG/NAME@REVISION"')
    grace = table.get("grace-seconds", 30)
    if not 1 <= grace <= 3600:
        raise SpecError(f"{_where(source, 'grace-seconds')} = {grace}: out of range",
                        "use 1 to 3600 seconds, e.g. 30")
    model = parse_model(table["model"], source, root)
    return ServeSpec(
        model=replace(model, fetch=fetch) if model.kind == "hub" else model,
        port=port,
        device=table.get("device"),
        dtype=table.get("dtype"),
        quantization=table.get("quantization"),
        continuous_batching=table.get("continuous-batching", False),
        trust_remote_code=table.get("trust-remote-code", False),
        grace_seconds=grace,
    )


def serve_schema() -> dict[str, object]:
    """JSON Schema of the [serve] table (part of `dockyard schema`)."""
    properties: dict[str, object] = {}
    for key, spec_key in SERVE_FIELDS.items():
        prop: dict[str, object] = {"type": {"string": "string", "int": "integer", "bool": "boolean"}[spec_key.kind],
                                   "description": spec_key.description}
        if spec_key.choices:
            prop["enum"] = list(spec_key.choices)
        if key == "model":
            prop["pattern"] = "^(path|hub|mount):.+$"
        if key == "port":
            prop.update(minimum=1, maximum=65535)
        if key == "grace-seconds":
            prop.update(minimum=1, maximum=3600)
        if isinstance(spec_key.default, (bool, int)):
            prop["default"] = spec_key.default
        properties[key] = prop
    return {"type": "object", "additionalProperties": False, "required": ["model"], "properties": properties,
            "description": 'The model a profile = "serve" image serves, and how (transformers serve).'}
