"""explain_log on real and hand-written build logs: the cause found, its details, the failing step."""

from __future__ import annotations

import re

import pytest
from diagnose_helpers import LOGS

from dockyard.diagnose.explain import explain_log, parse_log
from dockyard.diagnose.signatures import SIGNATURE_IDS, SIGNATURES

# log file -> (signature expected first, details it must extract)
EXPECTED: dict[str, tuple[str, dict[str, str]]] = {
    "real/tls_cert.log": ("tls-certificate", {"host": "pypi.org"}),
    "real/companion_cuda_lib.log": ("companion-cuda-build", {}),
    "real/companion_nms.log": ("companion-cuda-build", {}),
    "real/pep668.log": ("pep668-externally-managed", {}),
    "real/podman_pep668.log": ("pep668-externally-managed", {}),
    "real/pull_missing.log": ("image-pull-unreachable", {"image": "nvidia/cuda:12.6.3-cudnn-devel-ubuntu22.04"}),
    "real/podman_pull.log": ("image-pull-unreachable", {"image": "python:3.12-slim"}),
    "real/podman_shortname.log": ("image-pull-unreachable", {"image": "nvidia/cuda:12.6.3-runtime-ubuntu22.04"}),
    "hand/pull_unknown_tag.buildx.log": ("image-not-found",
                                         {"image": "nvidia/cuda:12.6-cudnn-devel-ubuntu22.04"}),
    "real/apt_missing.log": ("apt-package-not-found", {"packages": "libcudnn9-dev-cuda-12"}),
    "real/pip_conflict.log": ("pip-resolution-impossible", {
        "requested": "tokenizers==0.21.0 and transformers==4.40.0",
        "conflicts": "The user requested tokenizers==0.21.0; transformers 4.40.0 depends on tokenizers<0.20 "
                     "and >=0.19"}),
    "hand/uv_conflict.buildx.log": ("pip-resolution-impossible", {}),
    "real/no_wheel.log": ("no-matching-distribution", {
        "requirement": "torch==1.12.1", "versions": "1.13.0, 1.13.1, ..., 2.12.1, 2.13.0, 2.14.0, 2.14.1, 2.15.0"}),
    "real/no_space.log": ("no-space-left", {"path": "/dev/shm/model.safetensors"}),
    "hand/no_space_pip.buildx.log": ("no-space-left", {}),
    "real/oom_legacy.log": ("compiler-oom", {"program": "cc1plus", "max_jobs": "2"}),
    "hand/oom_flash_attn.buildx.log": ("compiler-oom", {"program": "cicc", "max_jobs": "16"}),
    "real/nvcc_notfound.log": ("nvcc-missing", {}),
    "hand/nvcc_missing_flash_attn.buildx.log": ("nvcc-missing",
                                                {"base": " (here nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04)"}),
    "hand/no_kernel_image.run.log": ("no-kernel-image", {
        "gpu": "NVIDIA GeForce RTX 5090", "arch": "sm_120", "variants": "cu128, cu129, cu130, cu132",
        "supported": "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90"}),
    "hand/undefined_symbol.buildx.log": ("undefined-symbol", {
        "library": "/opt/venv/lib/python3.12/site-packages/flash_attn_2_cuda.cpython-312-x86_64-linux-gnu.so",
        "replaced": "torch 2.8.0+cu128 was replaced by torch 2.9.0 in an earlier step"}),
    "hand/torchaudio_mismatch.run.log": ("cuda-variant-mismatch", {}),
    "hand/deepspeed_compute60.buildx.log": ("deepspeed-cuda13-arch", {"arch": "compute_60"}),
    "hand/rocm_nvidia.buildx.log": ("rocm-nvidia-packages", {
        "replaced": "torch 2.5.1+rocm6.2 was replaced by torch 2.6.0"}),
    "real/secret_missing.log": ("secret-missing", {"secret": "ca"}),
    "real/podman_secret_missing.log": ("secret-missing", {"secret": "ca"}),
    "real/buildx_missing.log": ("buildkit-feature", {"feature": "this docker client has no buildx plugin"}),
    "real/legacy_mount.log": ("buildkit-feature", {}),
    "real/build_context.log": ("buildkit-feature", {}),
    "real/heredoc.log": ("buildkit-feature", {}),
    "real/syntax_frontend.log": ("syntax-frontend", {"frontend": "docker.io/docker/dockerfile:1.7"}),
    "real/hub_unreachable.log": ("hub-unreachable", {"endpoint": "http://hub.invalid",
                                                     "error": "Name or service not known"}),
}
UNKNOWN = ("real/unknown_buildkit.log", "real/podman_unknown.log")
# logs of builds that worked -> the line that says so
SUCCEEDED = {
    "real/success_buildkit.log": "#6 naming to docker.io/library/dockyard-diagtest-i24:success_buildkit done",
    "real/success_legacy.log": "Successfully tagged dockyard-diagtest-i24:success_legacy",
    "real/success_podman.log": "Successfully tagged localhost/dockyard-diagtest-i24:success_podman",
}


def read(name: str) -> str:
    return (LOGS / name).read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_known_failure(name: str) -> None:
    expected_id, details = EXPECTED[name]
    explanation = explain_log(read(name))
    assert explanation.known
    first = explanation.matches[0]
    assert first.id == expected_id, [m.id for m in explanation.matches]
    for key, value in details.items():
        assert first.details.get(key) == value, (key, first.details)
    assert first.evidence and all(number > 0 and text for number, text in first.evidence)
    assert "{" not in first.cause and "{" not in first.fix.replace("{{", "")


def test_every_log_is_tested_and_listed_in_the_readme() -> None:
    on_disk = {str(p.relative_to(LOGS)) for p in LOGS.rglob("*.log")}
    assert on_disk == set(EXPECTED) | set(UNKNOWN) | set(SUCCEEDED)
    readme = (LOGS / "README.md").read_text()
    for name in on_disk:
        assert f"`{name}`" in readme, name


def test_every_signature_has_a_log() -> None:
    covered = {expected for expected, _ in EXPECTED.values()}
    untested = set(SIGNATURE_IDS) - covered
    # covered by the inline cases below instead of a log file
    assert untested == {"killed", "nvcc-unsupported-arch", "rust-missing", "hub-access-denied"}


def test_signatures_are_well_formed() -> None:
    assert len(set(SIGNATURE_IDS)) == len(SIGNATURE_IDS)
    for signature in SIGNATURES:
        assert re.fullmatch(r"[a-z0-9-]+", signature.id)
        for pattern in (*signature.patterns, *signature.context):
            re.compile(pattern)
        assert set(signature.excludes) <= set(SIGNATURE_IDS)
        placeholders = set(re.findall(r"\{(\w+)\}", signature.cause + signature.fix + signature.dockyard))
        assert placeholders <= set(signature.defaults), (signature.id, placeholders)


@pytest.mark.parametrize("name", sorted(SUCCEEDED))
def test_a_build_that_succeeded_is_said_so(name: str) -> None:
    """Issue 24: a successful build's log is not "no known failure signature matched"."""
    explanation = explain_log(read(name))
    assert explanation.succeeded and explanation.success is not None
    assert explanation.success[1] == SUCCEEDED[name]
    assert not explanation.matches and explanation.step is None
    assert explanation.to_dict()["succeeded"] is True


@pytest.mark.parametrize("name", [*UNKNOWN, *sorted(EXPECTED)])
def test_a_failed_build_never_reads_as_a_success(name: str) -> None:
    assert not explain_log(read(name)).succeeded


def test_a_failure_after_an_earlier_export_is_still_a_failure() -> None:
    text = read("real/success_buildkit.log") + "\n" + read("real/unknown_buildkit.log")
    assert not explain_log(text).succeeded


@pytest.mark.parametrize("name", UNKNOWN)
def test_unknown_failure_shows_the_failing_step(name: str) -> None:
    explanation = explain_log(read(name))
    assert not explanation.known
    assert explanation.step is not None
    assert explanation.tail


def test_unknown_buildkit_step_and_tail() -> None:
    explanation = explain_log(read("real/unknown_buildkit.log"))
    assert explanation.step is not None
    assert explanation.step.engine == "buildkit"
    assert explanation.step.label.startswith("[3/3] RUN echo 'checking the image'")
    assert explanation.step.exit_code == 3
    assert explanation.tail == ("checking the image", "probe failed")


def test_unknown_podman_step_and_tail() -> None:
    explanation = explain_log(read("real/podman_unknown.log"))
    assert explanation.step is not None
    assert explanation.step.engine == "podman"
    assert explanation.step.label == "STEP 2/2: RUN echo 'warming up' && sh -c 'echo step failed >&2; exit 7'"
    assert explanation.step.exit_code == 7
    assert explanation.tail == ("warming up", "step failed")


@pytest.mark.parametrize(("name", "engine", "label", "code"), [
    ("real/apt_missing.log", "buildkit", "[2/2] RUN apt-get update", 100),
    ("hand/oom_flash_attn.buildx.log", "buildkit", "[builder 6/8] RUN --mount=type=cache", 1),
    ("real/oom_legacy.log", "legacy", "Step 5/5 : RUN MAX_JOBS=2", 1),
    ("real/podman_pep668.log", "podman", "STEP 3/3: RUN pip install transformers", 1),
    ("real/pull_missing.log", "buildkit", "[internal] load metadata for docker.io/nvidia/cuda", None),
])
def test_failed_step(name: str, engine: str, label: str, code: int | None) -> None:
    step = explain_log(read(name)).step
    assert step is not None
    assert (step.engine, step.exit_code) == (engine, code)
    assert step.label.startswith(label)


def test_failed_step_tail_is_the_steps_own_output() -> None:
    step = explain_log(read("hand/undefined_symbol.buildx.log")).step
    assert step is not None and step.label.startswith("[runtime 5/6]")
    assert step.tail[-1].startswith("ImportError: ") and "Successfully installed" not in " ".join(step.tail)
    assert len(explain_log("\n".join(f"#7 {i}.0 line {i}" for i in range(50)) + "\n#7 ERROR: boom").tail) == 20


def test_ansi_and_carriage_returns_are_removed() -> None:
    lines, _ = parse_log("\x1b[91mE: Unable to locate package foo\x1b[0m\r\nprogress 10%\rprogress 100%\n")
    assert [ln.text for ln in lines[:2]] == ["E: Unable to locate package foo", "progress 100%"]


def test_tls_failure_hides_the_no_matching_distribution_it_causes() -> None:
    ids = [m.id for m in explain_log(read("real/tls_cert.log")).matches]
    assert ids == ["tls-certificate"]


def test_syntax_frontend_hides_the_generic_pull_failure() -> None:
    ids = [m.id for m in explain_log(read("real/syntax_frontend.log")).matches]
    assert "image-pull-unreachable" not in ids


def test_matches_in_the_failed_step_come_first() -> None:
    log = ("#5 [2/3] RUN apt-get install -y nothing\n#5 0.1 W: No space left on device (warning only)\n#5 DONE 1.0s\n"
           "#6 [3/3] RUN pip install x\n#6 0.2 error: externally-managed-environment\n"
           "#6 ERROR: executor failed running [/bin/sh -c pip install x]: exit code: 1\n")
    explanation = explain_log(log)
    assert [m.id for m in explanation.matches] == ["pep668-externally-managed", "no-space-left"]
    assert explanation.matches[0].in_failed_step and not explanation.matches[1].in_failed_step


@pytest.mark.parametrize(("text", "expected"), [
    ("#9 ERROR: process \"/bin/sh -c make\" did not complete successfully: exit code: 137", "killed"),
    ("nvcc fatal   : Unsupported gpu architecture 'compute_120'", "nvcc-unsupported-arch"),
    ("error: can't find Rust compiler", "rust-missing"),
    ("x509: certificate signed by unknown authority", "tls-certificate"),
    ("ERROR: Package 'transformers' requires a different Python: 3.8.10 not in '>=3.9.0'",
     "no-matching-distribution"),
    ("Error response from daemon: manifest for nvidia/cuda:12.6-devel not found: manifest unknown: manifest unknown",
     "image-not-found"),
    ("RuntimeError: HIP error: invalid device function", "no-kernel-image"),
    ("cat: /run/secrets/hf_token: No such file or directory", "secret-missing"),
    ("E: Package 'python3.12' has no installation candidate", "apt-package-not-found"),
    ("deepspeed.ops.op_builder.builder.MissingCUDAException: CUDA_HOME does not exist, unable to compile CUDA op(s)",
     "nvcc-missing"),
    ("huggingface_hub.errors.GatedRepoError: 401 Client Error. (Request ID: Root=1-x)", "hub-access-denied"),
    ("dockyard: the Hugging Face Hub refused org/name@main (RepositoryNotFoundError, without a token)",
     "hub-access-denied"),
    ("huggingface_hub.errors.LocalEntryNotFoundError: Got: ConnectError: [Errno -2] Name or service not known",
     "hub-unreachable"),
])
def test_inline_cases(text: str, expected: str) -> None:
    assert explain_log(text).matches[0].id == expected


def test_hub_unreachable_names_the_endpoint_and_the_error() -> None:
    log = ("'[Errno -2] Name or service not known' thrown while requesting GET http://hub.invalid/api/models/o/n\n"
           "dockyard: cannot reach the Hugging Face Hub at http://hub.invalid: ConnectError: [Errno -2] Name or "
           "service not known\n")
    first = explain_log(log).matches[0]
    assert first.id == "hub-unreachable"
    assert first.details == {"endpoint": "http://hub.invalid", "error": "Name or service not known"}
    assert "http://hub.invalid" in first.cause and "HF_ENDPOINT" in first.dockyard and "hf_token" in first.dockyard
    assert 'model = "path:DIR"' in first.dockyard and "mount:" in first.dockyard


def test_oom_kill_of_a_compiler_is_not_also_reported_as_a_bare_kill() -> None:
    log = "c++: fatal error: Killed signal terminated program cc1plus\nexit code: 137\n"
    assert [m.id for m in explain_log(log).matches] == ["compiler-oom"]


def test_rocm_signature_needs_a_rocm_image() -> None:
    cuda_log = "Successfully installed nvidia-cublas-cu12-12.4.5.8 torch-2.6.0\nAssertionError\n"
    assert "rocm-nvidia-packages" not in [m.id for m in explain_log(cuda_log).matches]


def test_deepspeed_signature_needs_deepspeed() -> None:
    ids = [m.id for m in explain_log("nvcc fatal   : Unsupported gpu architecture 'compute_60'\n").matches]
    assert ids == ["nvcc-unsupported-arch"]


def test_empty_and_unrelated_logs() -> None:
    for text in ("", "\n\n", "Step 1/1 : FROM scratch\n"):
        explanation = explain_log(text)
        assert not explanation.known
    assert explain_log("all good\nreally\n").tail == ("all good", "really")
    assert explain_log("").to_dict() == {"known": False, "succeeded": False, "matches": [], "failed_step": None,
                                         "tail": [], "success": None}


def test_fixture_logs_hold_no_secrets() -> None:
    for path in LOGS.rglob("*.log"):
        text = path.read_text(errors="replace")
        assert "BEGIN CERTIFICATE" not in text, path
        assert not re.search(r"\bhf_[A-Za-z0-9]{20,}|ghp_[A-Za-z0-9]{20,}|://[^/\s:@]+:[^/\s@]+@", text), path


def test_buildx_summary_without_plain_progress() -> None:
    log = ("ERROR [builder 4/7] RUN pip install flash-attn\n------\n > [builder 4/7] RUN pip install flash-attn:\n"
           "12.30 building 'flash_attn_2_cuda' extension\n12.31 some unknown trouble\n------\n"
           'ERROR: failed to solve: process "/bin/sh -c pip install flash-attn" did not complete successfully: '
           "exit code: 2\n")
    explanation = explain_log(log)
    assert explanation.step is not None
    assert explanation.step.label == "[builder 4/7] RUN pip install flash-attn"
    assert explanation.step.exit_code == 2
    assert explanation.tail == ("building 'flash_attn_2_cuda' extension", "some unknown trouble")


@pytest.mark.parametrize(("signature_id", "option"), [
    ("tls-certificate", "dockyard build --ca-cert FILE"),
    ("secret-missing", "--ca-cert FILE"),
    ("image-pull-unreachable", "dockyard build --base-map {image}=LOCAL:TAG"),
    ("image-not-found", "dockyard build --base-map {image}=IMAGE"),
    ("no-matching-distribution", "dockyard build --index-map URL=MIRROR"),
    ("no-matching-distribution", "--wheelhouse DIR"),
    ("companion-cuda-build", "--index-map"),
    ("compiler-oom", "dockyard build --max-jobs N"),
    ("buildkit-feature", "dockyard build --backend podman"),
])
def test_known_failures_name_dockyards_own_fix(signature_id: str, option: str) -> None:
    signature = next(s for s in SIGNATURES if s.id == signature_id)
    assert option in signature.dockyard


def test_explain_shows_dockyards_fix_for_a_tls_failure() -> None:
    log = "ERROR: Could not fetch URL https://pypi.org/simple/torch/: SSLError(SSLCertVerificationError(1, " \
          "'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate'))"
    match = explain_log(log).matches[0]
    assert match.id == "tls-certificate"
    assert "docker build --secret id=ca" in match.fix
    assert match.dockyard.startswith("`dockyard build --ca-cert FILE`")
    assert match.to_dict()["dockyard"] == match.dockyard
