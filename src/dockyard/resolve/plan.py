"""Plan: a spec with every decision made. Every version concrete, the base chosen, the index known.

Render reads only the plan; `dockyard check` prints it; the verify probe checks an image against it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dockyard.spec.model import ImageSpec
from dockyard.spec.serve import HEALTH_PATH, READY_PATH, ServeModel


@dataclass(frozen=True)
class Package:
    """One pip requirement. `version` None means unpinned (a warning says so); `url` a source archive."""

    name: str
    version: str | None = None
    extras: tuple[str, ...] = ()
    url: str | None = None
    marker: str = ""
    raw: str = ""  # a requirement kept as the user wrote it (a range dockyard does not pin)
    index_url: str = ""  # a torch companion taken from another wheel index than torch's (torchcodec's CPU build)

    def requirement(self) -> str:
        if self.raw:
            return self.raw
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        if self.url:
            return f"{self.name}{extras} @ {self.url}"
        pin = f"=={self.version}" if self.version else ""
        return f"{self.name}{extras}{pin}{self.marker}"


@dataclass(frozen=True)
class TorchPlan:
    version: str | None  # None for nightly
    variant: str
    index_url: str
    channel: str  # release | nightly
    build: str  # cpu | cuda | rocm | xpu: what the probe expects of torch
    companions: tuple[Package, ...] = ()  # torchvision/torchaudio from the same index
    cuda: str | None = None  # "13.0" for cu130
    rocm: str | None = None
    wheel_archs: tuple[str, ...] = ()
    xla: Package | None = None


@dataclass(frozen=True)
class TransformersPlan:
    version: str | None
    ref: str | None
    extras: tuple[str, ...]
    url: str | None = None  # source archive for a git ref
    editable: bool = False

    def describe(self) -> str:
        return self.version or f"git ref {self.ref}"


@dataclass(frozen=True)
class AddonPlan:
    name: str
    version: str | None
    requirement: str
    import_name: str = ""
    compile: bool = False
    no_build_isolation: bool = False
    pip_args: tuple[str, ...] = ()
    build_env: tuple[tuple[str, str], ...] = ()
    build_python: tuple[Package, ...] = ()
    script: str = ""
    script_env: tuple[tuple[str, str], ...] = ()
    runtime_paths: tuple[str, ...] = ()
    path: str = ""
    probe_tool: str = ""
    probes: tuple[tuple[str, str, bool], ...] = ()  # (name, Python code, needs a GPU): knowledge/addons.toml
    index_url: str = ""  # installed with torch from its wheel index (torchao's +xpu build), not from PyPI
    own_step: bool = False  # installed in a step of its own (without build isolation, with build_env)


@dataclass(frozen=True)
class ServePlan:
    """Everything the serve image and its deployments need to know, decided. The server listens on
    127.0.0.1:upstream_port; the gateway (HAProxy) on `port` passes on only `routes` (and `admin_routes`
    when opened), answers /ready and /metrics itself, and checks the API key."""

    model: ServeModel
    port: int
    device: str
    command: tuple[str, ...]  # the image's default command (after the init): the launcher
    imports: tuple[str, ...]  # server modules the warm-up loads and verify imports
    modalities: tuple[str, ...]  # what a path: model needs (empty for hub: and mount:)
    grace_seconds: int
    name: str = ""  # the model id clients send
    server: tuple[str, ...] = ()  # `transformers serve` up to the model (the launcher adds it and the settings)
    model_option: str = ""  # "" : the model is positional; else the option that names it (--force-model)
    cb_memory_option: str = ""  # caps continuous batching's KV cache; "" where the release has none
    routes: tuple[str, ...] = ()  # "METHOD /path" the gateway passes on
    admin_routes: tuple[str, ...] = ()  # passed on only when the admin-routes setting is true
    warm_up_route: str = ""  # "METHOD /path" of the readiness check's one-token request
    upstream_port: int = 0  # the server, on 127.0.0.1
    metrics_port: int = 0  # HAProxy's own exporter, on 127.0.0.1
    settings: tuple[tuple[str, str], ...] = ()  # (ENV name, the spec's value) of each run-time setting
    server_command: tuple[str, ...] = ()  # what the launcher runs with these settings (less the KV cache cap)
    health_path: str = HEALTH_PATH
    ready_path: str = READY_PATH
    excluded: tuple[str, ...] = ()  # packages a dependency declares for downloads only, gone with the model baked in

    @property
    def model_id(self) -> str:
        """The id /v1/models lists and a request names (the default; DOCKYARD_SERVE_NAME overrides it)."""
        return self.name or self.model.container_path

    @property
    def api_key(self) -> str:
        """Where the gateway reads the key by default ("env:NAME", "file:/PATH"), "" for none."""
        return dict(self.settings).get("DOCKYARD_SERVE_KEY_SOURCE", "")

    def expectations(self) -> dict[str, Any]:
        """What `dockyard verify` checks of the running server (kept in the image's plan.json)."""
        return {"port": self.port, "health": self.health_path, "ready": self.ready_path, "model_id": self.model_id,
                "model_kind": self.model.kind, "model_in_image": self.model.baked, "grace_seconds": self.grace_seconds,
                "api_key": self.api_key, "admin_routes": [r.split(" ", 1)[1] for r in self.admin_routes]}


@dataclass(frozen=True)
class Plan:
    spec: ImageSpec
    name: str
    target: str
    profile: str
    python: str
    torch: TorchPlan
    transformers: TransformersPlan
    runtime_base: str
    builder_base: str
    distro: str
    compile: bool
    gpu_archs: tuple[str, ...]
    packages: tuple[Package, ...]
    addons: tuple[AddonPlan, ...]
    system_packages: tuple[str, ...]
    build_packages: tuple[str, ...]
    uninstall: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    user: str
    uid: int
    slim: bool
    keep_torch_headers: bool
    bytecode: str
    files: tuple[str, ...]
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    imports: tuple[str, ...]
    tools: tuple[str, ...]
    libraries: tuple[str, ...]
    max_jobs: int
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    extra_paths: tuple[str, ...] = field(default=())
    system_trim: tuple[str, ...] = ()  # paths dpkg leaves out (knowledge/modalities.toml [[trim]])
    system_setup: tuple[str, ...] = ()  # commands run after the apt install (knowledge/modalities.toml [[configure]])
    python_headers: bool = False  # the final image compiles at run time: the interpreter's headers too
    archives: tuple[tuple[str, str, str, str], ...] = ()  # apt archives: (name, key URL, keyring, sources line)
    package_data: tuple[tuple[str, str], ...] = ()  # (package, command fetching its data): python.toml [[package_data]]
    uv: tuple[str, str, str] = ("", "", "")  # version, wheel URL, sha256: installs CPython when needed
    installer_env: tuple[tuple[str, str], ...] = ()  # builder ENV of pip (knowledge/python.toml [installer.env])
    gaps: tuple[str, ...] = ()  # knowledge rows found missing while resolving, each with how to supply it
    serve: ServePlan | None = None  # profile = "serve": the server and its model
    # a slim serve image's root: packages purged and paths removed from its base (serve.toml [[root-trim.rows]])
    root_trim: tuple[str, ...] = ()
    root_trim_paths: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        return self.spec.digest()

    @property
    def transformers_for_job(self) -> bool:
        """A CI image whose job installs the transformers it tests: the image carries its dependencies only."""
        return self.spec.transformers_install == "dependencies"

    @property
    def venv(self) -> str:
        return "/opt/venv"

    @property
    def home(self) -> str:
        return "/root" if self.user == "root" else f"/home/{self.user}"

    def excluded(self) -> tuple[str, ...]:
        """The spec's `exclude` and what a serve image with its model baked in leaves out, as pip names:
        never left in the image, even when a dependency brings one."""
        from packaging.utils import canonicalize_name

        names = (*self.spec.exclude, *(self.serve.excluded if self.serve else ()))
        return tuple(sorted({str(canonicalize_name(name)) for name in names}))

    def pinned_versions(self) -> dict[str, str]:
        """name -> exact version the image must carry (what the probe compares)."""
        pins: dict[str, str] = {}
        if self.torch.version:
            pins["torch"] = self.torch.version
        for package in (*self.torch.companions, *self.packages):
            if package.version and not package.url:
                pins[package.name] = package.version
        if self.torch.xla and self.torch.xla.version:
            pins[self.torch.xla.name] = self.torch.xla.version
        if self.transformers.version and not self.transformers_for_job:
            pins["transformers"] = self.transformers.version
        for addon in self.addons:
            if addon.version and addon.requirement and "@" not in addon.requirement:
                pins[addon.requirement.split("==")[0].split("[")[0]] = addon.version
        return dict(sorted(pins.items()))

    def expectations(self) -> dict[str, Any]:
        """What the verify probe checks inside the image (also written into it as plan.json)."""
        return {
            "name": self.name,
            "target": self.target,
            "profile": self.profile,
            "python": self.python,
            "torch_build": self.torch.build,
            "cuda": self.torch.cuda,
            "rocm": self.torch.rocm,
            "gpu_archs": list(self.gpu_archs) if self.torch.build in ("cuda", "rocm") else [],
            "versions": self.pinned_versions(),
            "imports": list(self.imports),
            "tools": list(self.tools),
            "libraries": list(self.libraries),
            "env": dict(self.env),
            "user": self.user,
            "non_root": self.user != "root" and self.profile in ("runtime", "serve"),
            "spec_digest": self.digest,
            **({"transformers_for_job": True} if self.transformers_for_job else {}),
            **({"excluded": list(self.excluded())} if self.excluded() else {}),
            **({"addon_probes": [{"addon": a.name, "name": n, "code": c, "gpu": g}
                                 for a in self.addons for n, c, g in a.probes]}
               if any(a.probes for a in self.addons) else {}),
            **({"serve": self.serve.expectations()} if self.serve else {}),
            **({"root_trimmed": True} if self.root_trim or self.root_trim_paths else {}),
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["spec"] = {"source": self.spec.source, "digest": self.digest, **self.spec.to_toml_dict()}
        data["env"] = dict(self.env)
        if self.serve is not None and self.serve.model.path is not None:
            data["serve"]["model"]["path"] = str(self.serve.model.path)
        return data
