"""render for profile = "serve": the model's own layer before app files, the hub download stage with the
token only as a secret mount, EXPOSE, a curl-free HEALTHCHECK and the server as the default command."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import dockerfile

from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

HEAD = '[image]\nname = "t"\nextends = "cpu-serve"\n'
SHA = "0123456789abcdef0123456789abcdef01234567"


def rendered(root: Path, serve: str, image: str = ""):  # type: ignore[no-untyped-def]
    path = root / "serve.toml"
    path.write_text(f"{HEAD}{image}[serve]\n{serve}")
    return render(resolve(load(str(path))))


def model(root: Path) -> Path:
    folder = root / "tiny"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (folder / "sub" / "weights.bin").write_bytes(b"\0" * 16)
    (folder / "sub" / "weights.bin").chmod(0o600)  # a private file still ends up readable by the image's user
    return folder


def commands(text: str) -> list[dockerfile.Command]:
    return list(dockerfile.parse_string(text))


def test_path_model_layer_comes_before_app_files(tmp_path: Path) -> None:
    model(tmp_path)
    (tmp_path / "app.py").write_text("print('hi')\n")
    result = rendered(tmp_path, 'model = "path:tiny"\n', 'files = ["app.py"]\n')
    originals = [c.original for c in commands(result.dockerfile)]
    model_copy = originals.index("COPY model/ /opt/model/")
    assert model_copy < originals.index("COPY app/ /app/")
    assert originals[-1] == 'CMD ["python", "/opt/dockyard/serve.py"]', "the launcher runs server and gateway"
    assert originals[-2] == 'ENTRYPOINT ["/usr/bin/tini", "--"]', "under the image's init"
    assert "EXPOSE 8000" in originals
    health = next(c for c in commands(result.dockerfile) if c.cmd.upper() == "HEALTHCHECK")
    assert "/opt/venv/bin/python" in health.original and "curl" not in health.original
    assert "http://127.0.0.1:8000/ready" in health.original, "healthy once warm"
    context = tmp_path / "context"
    result.write(context)
    weights = context / "model" / "sub" / "weights.bin"
    assert weights.read_bytes() == b"\0" * 16
    assert stat.S_IMODE(weights.stat().st_mode) == 0o644
    assert stat.S_IMODE((context / "model" / "sub").stat().st_mode) == 0o755


def test_hub_model_downloads_in_its_own_stage_with_the_token_as_a_secret(tmp_path: Path) -> None:
    result = rendered(tmp_path, f'model = "hub:org/name@{SHA}"\n')
    parsed = commands(result.dockerfile)
    froms = [c.value[-1] for c in parsed if c.cmd.upper() == "FROM"]
    assert froms == ["base", "builder", "model", "root", "runtime"]
    download = next(c for c in parsed if c.cmd.upper() == "RUN" and "hub_model.py" in c.original)
    assert "--mount=type=secret,id=hf_token" in download.original
    assert f"org/name {SHA} /opt/model" in download.original
    assert "COPY --from=model /opt/model /opt/model" in [c.original for c in parsed]
    for command in parsed:  # the token never becomes an argument or a variable
        if command.cmd.upper() in ("ARG", "ENV", "LABEL"):
            assert "hf_token" not in command.original.lower() and "HF_TOKEN" not in command.original
    assert "dockyard/hub_model.py" in result.files
    env = next(c for c in parsed if c.cmd.upper() == "ENV" and "HF_HUB_OFFLINE" in c.original)
    assert 'HF_HUB_OFFLINE="1"' in env.original


def test_mounted_model_puts_nothing_in_the_image(tmp_path: Path) -> None:
    result = rendered(tmp_path, 'model = "mount:/models/m"\nport = 9000\n')
    originals = [c.original for c in commands(result.dockerfile)]
    assert not any("/opt/model" in line or "hub_model" in line for line in originals)
    assert "EXPOSE 9000" in originals and not result.model_dir
    assert "HF_HUB_OFFLINE" not in result.dockerfile


def test_hub_model_fetched_at_start_ships_no_weights(tmp_path: Path) -> None:
    """No download stage; the download script in the image and an empty /opt/model owned by the image's
    user (a new named volume copies that owner); the server still runs offline."""
    result = rendered(tmp_path, f'model = "hub:org/name@{SHA}"\nfetch = "start"\n')
    parsed = commands(result.dockerfile)
    assert [c.value[-1] for c in parsed if c.cmd.upper() == "FROM"] == ["base", "builder", "root", "runtime"]
    originals = [c.original for c in parsed]
    assert "COPY dockyard/hub_model.py /opt/dockyard/" in originals
    assert ("RUN /opt/venv/bin/python -c \"import os; os.makedirs('/opt/model', exist_ok=True); "
            "os.chmod('/opt/model', 0o755); os.chown('/opt/model', 1000, 1000)\"") in originals, \
        "made by the image's Python: a slim serve image's root has no coreutils"

    assert not any("--mount=type=secret,id=hf_token" in line for line in originals)
    assert "dockyard/hub_model.py" in result.files
    assert 'HF_HUB_OFFLINE="1"' in result.dockerfile
    plan = json.loads(result.files["dockyard/plan.json"])
    assert plan["serve"]["model_in_image"] is False, "verify does not start a server without its model"
