"""Apptainer definitions (apptainer is not packaged for Debian 12, so the text is checked, not built):
from the built image, and from the base with the rendered Dockerfile's own steps, for every preset."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from dockyard.knowledge.loader import preset_names
from dockyard.render.blocks.common import SCRIPTS, RenderOptions
from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve
from dockyard.scale.apptainer import STAGING, DefOptions, definition_text, write_definition
from dockyard.scale.stages import parse
from dockyard.spec.model import load

SECTION = re.compile(r"^%([a-z]+(?: from [a-z]+)?)$", re.M)


def sections(stage: str) -> dict[str, list[str]]:
    """Section name -> its lines (indentation removed)."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in stage.splitlines():
        match = SECTION.match(line)
        if match:
            current = match.group(1)
            found[current] = []
        elif current and line.startswith("    "):
            found[current].append(line[4:])
    return found


def stages(text: str) -> list[str]:
    return ["Bootstrap:" + part for part in text.split("\nBootstrap:")[1:]]


def test_from_the_built_image() -> None:
    plan = resolve(load("cpu-inference"))
    text = definition_text(plan, DefOptions(from_image=""))
    assert "Bootstrap: docker-daemon\nFrom: dockyard/cpu-inference:latest\n" in text
    assert "%post" not in text and "%files" not in text, "nothing is rebuilt"
    found = sections(text)
    assert 'exec "$@"' in found["runscript"] and 'set -- python' in found["runscript"][1]
    assert "export PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in \
        found["environment"]
    assert "dev.dockyard.spec-digest " + plan.digest in found["labels"]
    assert any("/opt/venv/bin/python /opt/dockyard/probe.py" in line for line in found["test"])
    registry = definition_text(plan, DefOptions(from_image="ghcr.io/acme/cpu-inference:1", bootstrap="docker"))
    assert "Bootstrap: docker\nFrom: ghcr.io/acme/cpu-inference:1\n" in registry


def test_from_the_base_with_the_same_steps(tmp_path: Path) -> None:
    plan = resolve(load("cpu-inference"))
    written = write_definition(plan, tmp_path / "cpu-inference.def", DefOptions())
    assert written == [tmp_path / "cpu-inference.def", tmp_path / "cpu-inference-context"]
    text = written[0].read_text()
    builder, runtime = stages(text)
    assert builder.startswith("Bootstrap: docker\nFrom: python:3.11-slim-bookworm\nStage: builder\n")
    assert runtime.startswith("Bootstrap: docker\nFrom: python:3.11-slim-bookworm\nStage: runtime\n")
    b, r = sections(builder), sections(runtime)
    assert "TORCH_VERSION=2.13.0" in b["arguments"] and "export TORCH_VERSION='{{ TORCH_VERSION }}'" in b["post"]
    assert f"cpu-inference-context/dockyard {STAGING}" in b["files"]
    assert "cpu-inference-context/wheels /wheels" in b["files"], "the wheelhouse bind mount, staged"
    assert b["post"][-1] == f"rm -rf {STAGING} /wheels", "nothing staged stays in the image"
    assert r["files from builder"] == ["/opt/python /opt/python", "/opt/venv /opt/venv"]
    assert "cpu-inference-context/dockyard/plan.json /opt/dockyard/plan.json" in r["files"]
    assert not any(SCRIPTS + "/" in line for line in b["post"] + r["post"])
    assert (tmp_path / "cpu-inference-context" / "dockyard" / "fetch.sh").is_file()
    assert "%environment" not in builder and "%runscript" in runtime


@pytest.mark.parametrize("preset", preset_names())
def test_every_run_step_of_the_dockerfile_is_in_post(preset: str) -> None:
    """The definition is a translation of the rendered Dockerfile, so it follows every change to render."""
    plan = resolve(load(preset))
    rendered = render(plan, RenderOptions(cache_mounts=False))
    text = definition_text(plan, DefOptions(context="ctx"))
    post = "\n".join(line for stage in stages(text) for line in sections(stage).get("post", []))
    flat = " ".join(post.replace(" \\\n&& ", " && ").split())
    for name, stage in parse(rendered.dockerfile).stages.items():
        if name == "root":  # a serve image's root trim: not applied under Apptainer (one file system, no layers)
            assert "root-trim.sh" not in flat
            continue
        for step in stage.steps:
            if step.keyword == "RUN":
                command = " ".join(" ".join(step.args).replace(f"{SCRIPTS}/", f"{STAGING}/").split())
                assert command in flat, f"{preset}: {command[:100]}"
    environment = dict(line.removeprefix("export ").split("=", 1)
                       for line in sections(stages(text)[-1])["environment"] if line.startswith("export "))
    assert environment["VIRTUAL_ENV"] == "/opt/venv" and environment["LANG"] == "C.UTF-8"
    labels = sections(stages(text)[-1])["labels"]
    assert f"dev.dockyard.spec-digest {plan.digest}" in labels
    assert "/usr/bin/tini" not in "\n".join(sections(stages(text)[-1])["runscript"])


def test_the_runscript_keeps_an_entrypoint_and_cmd(tmp_path: Path) -> None:
    spec = tmp_path / "serve.toml"
    spec.write_text('[image]\nextends = "cpu-inference"\nname = "serve"\nentrypoint = ["python", "-m"]\n'
                    'cmd = ["http.server", "8000"]\n')
    text = definition_text(resolve(load(str(spec))), DefOptions(from_image=""))
    runscript = sections(text)["runscript"]
    assert runscript[1:] == ['if [ "$#" -eq 0 ]; then set -- http.server 8000; fi', 'exec python -m "$@"']


def test_ca_certificate_and_base_map(tmp_path: Path) -> None:
    ca = tmp_path / "proxy.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    plan = resolve(load("cpu-inference"))
    options = DefOptions(base_map=(("python:3.11-slim-bookworm", "registry.site/python:3.11-slim-bookworm"),))
    write_definition(plan, tmp_path / "out" / "a.def", options, tmp_path / "ctx", ca)
    text = (tmp_path / "out" / "a.def").read_text()
    assert "From: registry.site/python:3.11-slim-bookworm" in text
    builder = sections(stages(text)[0])
    assert f"../ctx/ca.pem {STAGING}/ca.pem" in builder["files"]
    assert f"mkdir -p /run/secrets && cp {STAGING}/ca.pem /run/secrets/ca" in builder["post"]
    assert builder["post"][-1].startswith(f"rm -rf {STAGING}") and "/run/secrets/ca" in builder["post"][-1]
    assert (tmp_path / "ctx" / "ca.pem").read_text().startswith("-----BEGIN")


def test_the_test_section_runs_the_probe_with_the_plan_in_the_image() -> None:
    plan = resolve(load("quality"))
    test = sections(definition_text(plan, DefOptions(from_image="")))["test"]
    command = test[-1]
    assert "/opt/dockyard/plan.json" in command and 'p["non_root"]=False' in command
    script = command.split("-c '", 1)[1].split("'", 1)[0]
    plan_json = json.dumps({"non_root": True, "name": "quality"})
    done = subprocess.run(["python3", "-c", script, "/dev/stdin"], input=plan_json, capture_output=True, text=True)
    assert json.loads(done.stdout)["non_root"] is False
