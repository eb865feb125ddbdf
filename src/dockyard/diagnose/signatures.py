"""Known build and run failures as data: what the log says, why it happens, what to do.

A `Signature` matches when one of its `patterns` matches a line of the log (ANSI colours and BuildKit
`#12 3.456` prefixes already removed) and every `context` pattern matches some line. `cause` and `fix`
may name {details} that the signature's `extract` function pulls from the log, with `defaults` for
details it cannot find. `dockyard` is dockyard's own way to apply the fix (an option of `dockyard build`, a
site config entry, a spec key), where one exists. Order matters: more specific signatures come first, and
`excludes` lists the ones a match makes redundant (a TLS failure also ends in pip's "No matching distribution").

To add one: append a Signature here, add a log under tests/unit/diagnose/logs/ (a real one if the
failure can be produced on a dev machine) with its expected id in test_explain.py, and document it in
docs/doctor.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from dockyard.diagnose import extract as ex

Extract = Callable[[Sequence[str]], dict[str, str]]


@dataclass(frozen=True)
class Signature:
    id: str
    title: str
    patterns: tuple[str, ...]
    cause: str
    fix: str
    context: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    extract: Extract | None = None
    defaults: Mapping[str, str] = field(default_factory=dict)
    dockyard: str = ""


CA_FIX = ('hand the proxy\'s CA bundle to the build as a secret, never COPY it into a layer: '
          '`docker build --secret id=ca,src="$PIP_CERT"` and '
          "`RUN --mount=type=secret,id=ca PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca pip install ...` "
          "(`dockyard doctor` says whether TLS is intercepted here)")

CA_DOCKYARD = ("`dockyard build --ca-cert FILE` (or $DOCKYARD_CA_CERT, or `ca-cert` in the [build] table of "
               "~/.config/dockyard/config.toml): dockyard hands the bundle to pip, uv, curl and git as a build secret")

SIGNATURES: tuple[Signature, ...] = (
    Signature(
        "secret-missing", "A build secret the Dockerfile mounts was not provided",
        (r"invalid path: /run/secrets/", r"/run/secrets/\S+: No such file or directory",
         r"secret [\w.-]+:? not found", r"secret required but no secret with id"),
        "the Dockerfile mounts secret `{secret}` (RUN --mount=type=secret) but the build command did not pass "
        "it; BuildKit then mounts nothing, silently, and the step fails when it reads /run/secrets/{secret}",
        "pass it: `docker build --secret id={secret},src=PATH` (for the CA: `src=\"$PIP_CERT\"`); add "
        "`required=true` to the mount so a missing secret fails at once with a clear message",
        extract=ex.secret, defaults={"secret": "ca"}, excludes=("tls-certificate",),
        dockyard="`dockyard build` passes the CA secret itself: `--ca-cert FILE` (default: $DOCKYARD_CA_CERT, or "
                 "`ca-cert` in the [build] table of ~/.config/dockyard/config.toml); another secret: "
                 "`dockyard build --secret id={secret},src=FILE`"),
    Signature(
        "tls-certificate", "TLS certificate verification failed (TLS-intercepting proxy or custom CA)",
        (r"CERTIFICATE_VERIFY_FAILED", r"SSL certificate problem", r"x509: certificate signed by unknown authority",
         r"server certificate verification failed", r"invalid peer certificate: UnknownIssuer",
         r"unable to get local issuer certificate"),
        "{host} presented a certificate the image does not trust: a proxy re-signs HTTPS with a company CA "
        "that is in the host's CA bundle but not in the container",
        CA_FIX, extract=ex.tls, defaults={"host": "the server"}, excludes=("no-matching-distribution",),
        dockyard=CA_DOCKYARD),
    Signature(
        "pep668-externally-managed", "pip refused to install into the distribution's Python (PEP 668)",
        (r"externally-managed-environment", r"This environment is externally managed"),
        "Debian/Ubuntu mark their system Python as externally managed (PEP 668), so `pip install` outside a "
        "virtual environment is refused",
        "create a virtual environment and put it first on PATH: `RUN python3 -m venv /opt/venv` + "
        "`ENV PATH=/opt/venv/bin:$PATH` (or `uv venv`); `--break-system-packages` only as a last resort"),
    Signature(
        "syntax-frontend", "The `# syntax=` Dockerfile frontend image cannot be fetched",
        (r"resolve image config for \S*docker/dockerfile", r"failed to solve with frontend gateway"),
        "the `# syntax={frontend}` line asks BuildKit to pull a Dockerfile frontend image from a registry, "
        "which this machine cannot reach",
        "remove the `# syntax=` line to use the engine's built-in frontend (then avoid heredocs and other "
        "newer syntax), or load the frontend image locally / use a registry mirror",
        extract=ex.frontend, defaults={"frontend": "docker/dockerfile:..."}, excludes=("image-pull-unreachable",)),
    Signature(
        "image-pull-unreachable", "The base image cannot be pulled: no registry reachable",
        (r"failed to do request: Head \"https://[^\"]+/manifests/.*(no such host|i/o timeout|connection refused)",
         r"pinging container registry .*(no such host|i/o timeout|connection refused)",
         r"dial tcp: lookup \S+.*no such host", r"short-name \"[^\"]+\" did not resolve to an alias",
         r"error pulling image configuration.*(no such host|timeout)",
         r"Error response from daemon: Get \"https://[^\"]+/v2/\": .*(no such host|timeout)"),
        "`{image}` is not in the engine's local image store and the registry cannot be reached (or, for podman, "
        "the short name has no registry to resolve to)",
        "use an image that is already local (`docker images`), or load it first (`docker load -i image.tar`, "
        "`docker import rootfs.tar NAME:TAG`); for podman write the full name (docker.io/...) and copy it in "
        "(`docker save NAME | podman load`); or configure a registry mirror",
        extract=ex.image, defaults={"image": "the base image"},
        dockyard="`dockyard build --base-map {image}=LOCAL:TAG` (or a [base-map] entry in "
                 "~/.config/dockyard/config.toml); `dockyard base bootstrap` makes local python:X.Y-slim images"),
    Signature(
        "image-not-found", "The base image or tag does not exist (or needs a login)",
        (r"manifest unknown", r"manifest for \S+ not found", r"failed to resolve source metadata for .*: not found",
         r"pull access denied for", r"repository does not exist or may require", r"requested access to the "
         r"resource is denied", r"reading manifest \S+ in \S+: manifest unknown"),
        "the registry answered but has no `{image}`: the tag is misspelled or was deleted (EOL CUDA tags are "
        "removed from Docker Hub/NGC ~6 months after end of life), or the repository is private",
        "check the tag on the registry (for nvidia/cuda use the latest point release of the CUDA minor, e.g. "
        "12.6.3-cudnn-devel-ubuntu22.04, not 12.6); `docker login` for private repositories",
        extract=ex.image, defaults={"image": "the image"},
        dockyard="`dockyard build --base-map {image}=IMAGE` to use an image you have, or `base = \"IMAGE\"` in the "
                 "spec's [image] table"),
    Signature(
        "apt-package-not-found", "apt cannot find a package",
        (r"E: Unable to locate package", r"E: Package '[^']+' has no installation candidate",
         r"E: Couldn't find any package by"),
        "apt cannot find {packages} in the base image's package sources: the name differs in this distribution "
        "release, it lives in a vendor repository (CUDA, ROCm, Intel) the base does not configure, or "
        "`apt-get update` did not run in the same RUN",
        "run `apt-get update && apt-get install ...` in one RUN; check the name with `apt-cache search` in the "
        "base; for CUDA/ROCm libraries use the vendor's base image (nvidia/cuda *-devel, rocm/dev-ubuntu) "
        "instead of apt",
        extract=ex.apt, defaults={"packages": "a package"}),
    Signature(
        "pip-resolution-impossible", "pip/uv cannot satisfy the requirements together",
        (r"ResolutionImpossible", r"because these package versions have conflicting dependencies",
         r"No solution found when resolving dependencies", r"requirements are unsatisfiable"),
        "the resolver (pip or uv) cannot install {requested} together: {conflicts}",
        "relax or change one of the pins named above (`pip install 'a==X' 'b==Y'` where Y satisfies a's range), "
        "or drop the pin and let the resolver choose; keep torch pinned with a constraints file (`-c`)",
        extract=ex.pip_conflict, defaults={"requested": "these requirements",
                                         "conflicts": "see the lines after 'The conflict is caused by:'"}),
    Signature(
        "no-matching-distribution", "No wheel or version of a package for this Python/platform",
        (r"No matching distribution found for", r"Could not find a version that satisfies the requirement",
         r"requires a different Python", r"has no wheels with a matching (?:Python|platform)",
         r"there is no version of \S+", r"was not found in the package registry"),
        "the index has no installable `{requirement}` for this interpreter and platform ({python}): the "
        "release has no wheel for this Python version or CPU architecture, or it does not exist (versions "
        "available here: {versions})",
        "pick a version listed above, or a Python the release supports (e.g. torch 1.12 stops at Python 3.10, "
        "torch 2.1 at 3.11); for torch variants (+cpu, +cuXYZ) point --index-url at download.pytorch.org",
        extract=ex.no_dist, defaults={"requirement": "the package", "python": "the image's Python",
                                    "versions": "not listed"},
        dockyard="`dockyard build --index-map URL=MIRROR` (a reachable mirror of the index; also [index-map] in "
                 "~/.config/dockyard/config.toml) or `--wheelhouse DIR` (local wheels tried before any index)"),
    Signature(
        "no-space-left", "No space left on device",
        (r"No space left on device", r"no space left on device", r"\bENOSPC\b"),
        "a write failed because its file system is full ({path}): the engine's data root, the build's /tmp, or "
        "/dev/shm (64 MiB in build containers)",
        "see usage with `docker system df` and free it (`docker builder prune`, `docker image prune`); "
        "`dockyard doctor` shows free space in the data root; write big temporary files outside /dev/shm "
        "and clean caches in the same RUN (`pip --no-cache-dir`, `rm -rf /var/lib/apt/lists/*`)",
        extract=ex.enospc, defaults={"path": "see the evidence line"}),
    Signature(
        "compiler-oom", "A compiler was killed for lack of memory during an extension build",
        (r"Killed signal terminated program", r"died due to signal 9", r"internal compiler error: Killed",
         r"ld terminated with signal 9", r"fatal error: Killed"),
        "the kernel's OOM killer ended the compiler ({program}): ninja ran too many compile jobs at once "
        "(MAX_JOBS={max_jobs}); one nvcc job for flash-attn or DeepSpeed kernels takes several GiB",
        "limit parallel jobs: `ENV MAX_JOBS=N` (about one job per 6 GiB of build memory; `dockyard doctor` "
        "prints N for this machine) and `NVCC_THREADS=1`; or install a prebuilt wheel instead of compiling",
        extract=ex.oom, defaults={"program": "cc1plus/cicc", "max_jobs": "unset: ninja uses cores + 2"},
        excludes=("killed",), dockyard="`dockyard build --max-jobs N` (the default comes from the host's memory)"),
    Signature(
        "killed", "A build step was killed (exit code 137)",
        (r"exit code: 137\b", r"returned a non-zero code: 137\b", r"exit status 137\b"),
        "exit code 137 means SIGKILL, almost always the OOM killer: the step needed more memory than the build "
        "had",
        "lower parallelism (MAX_JOBS, fewer builds at once), give the engine more memory, or split the step",
        dockyard="`dockyard build --max-jobs N` for compiled add-ons; `dockyard matrix` schedules builds by memory"),
    Signature(
        "nvcc-missing", "No CUDA compiler (nvcc) in the image",
        (r"nvcc: not found", r"nvcc: command not found", r"No such file or directory: '[^']*/bin/nvcc'",
         r"CUDA_HOME environment variable is not set", r"MissingCUDAException", r"nvcc was not found"),
        "the step compiles CUDA code (an extension: flash-attn, DeepSpeed ops, apex, bitsandbytes) but the "
        "base is a CUDA *runtime* image{base} or no CUDA image: only *devel* images carry nvcc and the headers",
        "compile in a builder stage FROM nvidia/cuda:X.Y.Z-cudnn-devel-... and copy the built wheel or venv "
        "into the runtime stage; or install a prebuilt wheel of the extension",
        extract=ex.nvcc, defaults={"base": ""},
        dockyard="list the extension in the spec's `addons`: resolve compiles it in a devel builder stage and "
                 "copies the result into the runtime stage"),
    Signature(
        "no-kernel-image", "The GPU's architecture is not compiled into torch (or an extension)",
        (r"no kernel image is available for execution on the device", r"is not compatible with the current "
         r"PyTorch installation", r"cudaErrorNoKernelImageForDevice", r"HIP error: invalid device function"),
        "the binaries were built without kernels for this GPU ({gpu} {arch}; this torch has {supported})",
        "install a torch variant that ships the GPU's architecture ({variants}); for extensions set "
        "TORCH_CUDA_ARCH_LIST (ROCm: PYTORCH_ROCM_ARCH) to include it; `dockyard doctor` on the GPU host "
        "lists the variants that fit its driver and GPU",
        extract=ex.kernel, defaults={"gpu": "this GPU", "arch": "", "supported": "other archs",
                                   "variants": "see `dockyard doctor`"},
        dockyard="set `gpu-archs` in the spec: resolve picks a variant whose wheels ship them and builds add-ons "
                 "for them"),
    Signature(
        "cuda-variant-mismatch", "torch and a companion package were built for different CUDA versions",
        (r"compiled with different CUDA (?:major )?versions",),
        "torchaudio/torchvision and torch come from different CUDA variants (e.g. torchaudio cu130 with torch "
        "cu126): each must match torch's +cuXYZ",
        "install torch, torchvision and torchaudio from the same index in one command, pinned to matching "
        "versions; keep torch pinned in later installs with a constraints file",
        dockyard="ask for them through the spec's `modalities` (vision, audio): dockyard installs them from "
                 "torch's index, paired with its release"),
    Signature(
        "companion-cuda-build", "A CUDA build of a torch companion beside a torch without CUDA",
        (r"operator torchvision::nms does not exist",
         r"lib(?:nvrtc|cudart|cublas|cudnn|cufft|curand|cusparse|nvJitLink)[\w.-]*\.so[.\d]*: "
         r"cannot open shared object"),
        "a package built for CUDA (PyPI's torchvision, torchaudio and torchcodec wheels for Linux x86_64 are "
        "CUDA builds) sits beside a CPU torch (or a torch without those CUDA libraries): its native library "
        "does not load, so the import fails",
        "install torch's companions from the same wheel index as torch (https://download.pytorch.org/whl/cpu "
        "for a CPU image) in the same pip command; where that index cannot be reached, mirror it "
        "(--index-map) or leave the package out (exclude = [...], and packages that require it, like timm)",
        dockyard="`dockyard build --index-map https://download.pytorch.org/whl/*=MIRROR` where torch's index cannot "
                 "be reached; `exclude = [...]` in the spec"),
    Signature(
        "undefined-symbol", "An extension does not match the installed torch (undefined symbol)",
        (r"undefined symbol: ",),
        "{library} was compiled against a different torch (or CUDA) than the one installed, so a C++ symbol it "
        "needs is missing ({symbol}); {replaced}",
        "pin torch in every later pip install (`-c constraints.txt`), install extension versions built for "
        "that torch (torchaudio/torchvision of the same release), or rebuild the extension after the final "
        "torch (`pip install --no-build-isolation --no-binary ...`); import it in the build to catch this",
        extract=ex.symbol, defaults={"library": "a compiled extension", "symbol": "see the evidence",
                                   "replaced": "often a later pip install replaced torch"}),
    Signature(
        "deepspeed-cuda13-arch", "DeepSpeed ops fail to build on CUDA 13 (compute_60 and older archs)",
        (r"Unsupported gpu architecture 'compute_(?:[3-6]\d|7[02])'",),
        "DeepSpeed's default arch list (no GPU at build time) includes {arch}, which CUDA 13 removed "
        "(Maxwell, Pascal and Volta are gone from nvcc 13)",
        "set TORCH_CUDA_ARCH_LIST to archs CUDA 13 supports before building DeepSpeed, e.g. "
        "`ENV TORCH_CUDA_ARCH_LIST=\"8.0;8.6;9.0;10.0;12.0\"`, or build DeepSpeed on a CUDA 12.x devel base "
        "(what HF's DeepSpeed image does)",
        context=(r"(?i)deepspeed|op_builder|DS_BUILD",), extract=ex.arch, defaults={"arch": "compute_60"},
        excludes=("nvcc-unsupported-arch",),
        dockyard="`addons = [\"deepspeed\"]` with target cuda and the variant left open: resolve picks a CUDA 12 "
                 "variant and sets TORCH_CUDA_ARCH_LIST"),
    Signature(
        "nvcc-unsupported-arch", "nvcc does not know a requested GPU architecture",
        (r"Unsupported gpu architecture 'compute_\d+\w?'", r"nvcc fatal\s*: Value 'sm_\d+' is not defined"),
        "the arch list asks nvcc for {arch}, which this CUDA version does not support (too new for an old "
        "nvcc, or removed from a new one)",
        "set TORCH_CUDA_ARCH_LIST (or the package's own arch variable) to archs this CUDA supports, or use a "
        "CUDA version that supports the GPU",
        extract=ex.arch, defaults={"arch": "an architecture"}),
    Signature(
        "rocm-nvidia-packages", "NVIDIA packages got into a ROCm image",
        (r"\bnvidia-[a-z0-9-]+-cu1\d\b", r"NVML Shared Library Not Found", r"NVMLError_LibraryNotFound",
         r"Found no NVIDIA driver on your system", r"libnvidia-ml\.so\.1: cannot open shared object",
         r"Torch not compiled with CUDA enabled"),
        "a later pip install pulled CUDA builds (the PyPI default torch and its nvidia-* wheels: {packages}) "
        "or NVML bindings into a ROCm image; {replaced}",
        "install torch from the ROCm index and keep it with a constraints file for every later install "
        "(`-c constraints.txt` holding torch==X+rocmY); remove NVIDIA-only packages: "
        "`pip uninstall -y pynvml py3nvml nvidia-ml-py apex` (as HF's ROCm images do); assert "
        "`torch.version.hip` in the build",
        context=(r"(?i)\brocm|\+rocm|/opt/rocm|\bhip\b",), extract=ex.rocm,
        defaults={"packages": "nvidia-*", "replaced": "torch.version.hip is then None"},
        dockyard="`target = \"rocm\"`: dockyard installs torch from the ROCm index, holds it with a constraints file "
                 "and uninstalls the NVML packages"),
    Signature(
        "buildkit-feature", "The engine lacks a BuildKit feature this build uses",
        (r"buildx component is missing or broken", r"requires BuildKit", r"unknown flag: --build-context",
         r"unknown flag: --secret", r"is not a docker command", r"unknown command \"?(?:buildx|bake)",
         r"dockerfile parse error line \d+: unknown instruction", r"Dockerfile parse error .*unknown flag"),
        "{feature}",
        "use a client with the buildx plugin, or the distribution's docker client (<23, e.g. /usr/bin/docker "
        "from docker.io 20.10) with DOCKER_BUILDKIT=1, or `--backend podman`; named contexts, bake and "
        "heredocs need buildx; `dockyard doctor` lists what each client here can do",
        extract=ex.feature, defaults={"feature": "a BuildKit feature is missing"},
        dockyard="`dockyard build --backend podman`, or `--backend docker` (the docker client with DOCKER_BUILDKIT=1); "
                 "`dockyard doctor` lists what each client here can do"),
    Signature(
        "hub-unreachable", "The build could not reach the Hugging Face Hub for a hub: model",
        (r"dockyard: cannot reach the Hugging Face Hub", r"LocalEntryNotFoundError",
         r"An error happened while trying to locate the files on the Hub"),
        "the build downloads the model from the Hub ({endpoint}) and no answer came back ({error}): the build "
        "runs offline or behind a firewall, DNS does not resolve the Hub, or HF_ENDPOINT names a mirror that is "
        "down. Nothing is cached to fall back on: the model stage starts empty",
        "let the build reach the Hub, or point it at a mirror (build argument HF_ENDPOINT=URL); or download the "
        "model where the Hub answers and build from the folder",
        extract=ex.hub, defaults={"endpoint": "https://huggingface.co", "error": "a connection error"},
        dockyard="`dockyard build SPEC --build-arg HF_ENDPOINT=https://MIRROR` (a Hub mirror or a company proxy of "
                 "it); or a model that needs no Hub at build time: `model = \"path:DIR\"` with DIR from "
                 "`huggingface-cli download ORG/NAME --revision REV --local-dir DIR`, or `model = "
                 "\"mount:/models/NAME\"` mounted at run time; a gated or private model also needs the token, only "
                 "as the build secret: `--secret id=hf_token,env=HF_TOKEN`"),
    Signature(
        "hub-access-denied", "The Hub refused the model: gated, private, or no such repository",
        (r"dockyard: the Hugging Face Hub refused", r"GatedRepoError", r"RepositoryNotFoundError",
         r"401 Client Error.*huggingface", r"403 Client Error.*huggingface"),
        "the Hub answered, but without access: the model is gated or private and the build had no token (or one "
        "without access), or the repository or revision does not exist",
        "accept the model's terms on its Hub page with the account whose token you use, and hand the token to the "
        "build as a secret, never as an argument; check the ORG/NAME and the revision",
        dockyard="`dockyard build SPEC --secret id=hf_token,env=HF_TOKEN` (the model stage mounts it; it never "
                 "reaches a layer); check `model = \"hub:ORG/NAME@REVISION\"` in [serve]"),
    Signature(
        "rust-missing", "A package needs Rust to build from source",
        (r"can't find Rust compiler", r"error: could not compile .*rustc", r"cargo: not found"),
        "pip found no wheel for this Python/platform (often an old base image or Python) and tried to build a "
        "Rust package (tokenizers, safetensors) from source",
        "use a Python the package ships wheels for (check the base image's Python); install Rust only if "
        "you must build from source"),
)

SIGNATURE_IDS = tuple(s.id for s in SIGNATURES)
