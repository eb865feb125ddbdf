"""The serve image's gateway as rendered: HAProxy's configuration passes on only the release's public routes
(knowledge/serve.toml, per transformers release), hides the admin routes unless the setting opens them,
checks the API key by its SHA-256, answers /ready and /metrics itself, and reaches the server on loopback
only; the launcher's config and the image's run-time settings follow the spec. (The running gateway is
tested in tests/engine/test_serve.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dockyard.knowledge.serving import serve_knowledge
from dockyard.render.blocks.gateway import backend_name, haproxy_config
from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

HEAD = '[image]\nname = "t"\nextends = "cpu-serve"\n'


def plan(root: Path, serve: str = 'model = "mount:/models/m"\n', image: str = ""):  # type: ignore[no-untyped-def]
    path = root / "serve.toml"
    path.write_text(f"{HEAD}{image}[serve]\n{serve}")
    return resolve(load(str(path)))


def routed(config: str) -> dict[str, tuple[str, str]]:
    """path -> (backend, methods) of each set-var rule."""
    found = {}
    for match in re.finditer(r"set-var\(txn.backend\) str\((\w+)\) if \{ path (\S+) \} \{ method ([A-Z ]+) \}",
                             config):
        found[match.group(2)] = (match.group(1), match.group(3))
    return found


def test_only_the_public_routes_reach_the_server(tmp_path: Path) -> None:
    config = haproxy_config(plan(tmp_path))
    public, admin = config.split(".if defined(DOCKYARD_GATEWAY_ADMIN_ROUTES)")[0], config
    assert routed(public) == {
        "/health": ("probe_health", "GET"), "/v1/models": ("api_models", "GET OPTIONS"),
        "/v1/chat/completions": ("api_chat_completions", "POST"), "/v1/completions": ("api_completions", "POST"),
        "/v1/responses": ("api_responses", "POST"), "/v1/systemone": ("api_systemone", "POST"),
        "/v1/audio/transcriptions": ("api_audio_transcriptions", "POST")}
    admin_block = admin.split(".if defined(DOCKYARD_GATEWAY_ADMIN_ROUTES)")[1].split(".endif")[0]
    assert routed(admin_block) == {"/reset": ("admin_reset", "POST"), "/load_model": ("admin_load_model", "POST")}
    assert "status 404" in config and "unless { var(txn.backend) -m found }" in config
    assert re.findall(r"server server (\S+)", config) == ["127.0.0.1:8001"] * 9, "the server only on loopback"
    assert "bind 127.0.0.1:8002" in config and "prometheus-exporter" in config
    assert "bind :8000" in config


def test_the_key_is_compared_by_its_digest_and_probes_stay_open(tmp_path: Path) -> None:
    config = haproxy_config(plan(tmp_path, 'model = "mount:/models/m"\napi-key = "env:API_KEY"\n'))
    block = config.split(".if defined(DOCKYARD_GATEWAY_KEY_SHA256)")[1].split(".endif")[0]
    assert "status 401" in block and "www-authenticate Bearer" in block
    assert 'req.fhdr(authorization),sha2(256),hex -m str "${DOCKYARD_GATEWAY_KEY_SHA256}"' in block
    assert "unless { var(txn.backend) -m beg probe_ }" in block
    assert "API_KEY" not in config.replace("invalid_api_key", ""), "neither the key nor its source is in the file"
    ready = next(line for line in config.splitlines() if "path /ready" in line)
    assert config.index(ready) < config.index(".if defined(DOCKYARD_GATEWAY_KEY_SHA256)"), "/ready needs no key"


@pytest.mark.parametrize(("release", "has_completions", "admin"), [
    ("5.2.0", False, ()), ("5.4.0", False, ("/load_model",)), ("5.5.0", False, ("/load_model", "/reset")),
    ("5.12.0", True, ("/load_model", "/reset")),
])
def test_routes_follow_the_transformers_release(tmp_path: Path, release: str, has_completions: bool,
                                                admin: tuple[str, ...]) -> None:
    config = haproxy_config(plan(tmp_path, image=f'transformers = "{release}"\n'))
    public = config.split(".if defined(DOCKYARD_GATEWAY_ADMIN_ROUTES)")[0].split("http-request return status 404")[0]
    assert ("/v1/completions" in routed(public)) is has_completions
    assert "/v1/systemone" not in routed(public), "5.20 added it"
    assert tuple(sorted(p for p in routed(config) if not p.startswith(("/v1", "/health")))) == tuple(sorted(admin))


def test_every_release_row_has_routes_and_a_warm_up() -> None:
    for row in serve_knowledge().cli:
        assert "GET /health" in row.routes and "POST /v1/chat/completions" in row.routes
        assert row.warm_up in row.routes and not set(row.routes) & set(row.admin)


def test_backend_names_are_the_metric_labels() -> None:
    assert backend_name("/v1/chat/completions", False, "/health") == "api_chat_completions"
    assert backend_name("/v1/audio/transcriptions", False, "/health") == "api_audio_transcriptions"
    assert backend_name("/health", False, "/health") == "probe_health"
    assert backend_name("/load_model", True, "/health") == "admin_load_model"


def test_the_image_carries_the_gateway_and_its_settings(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "llama"}))
    result = render(plan(tmp_path, 'model = "path:m"\nname = "acme/chat"\ncontinuous-batching = false\n'
                                   'api-key = "file:/run/secrets/key"\n'))
    text = result.dockerfile
    assert "ca-certificates haproxy tini" in text, "Debian's HAProxy in the final image"
    assert 'ln -s "/opt/model" "/opt/dockyard/models/acme/chat"' in text, "the model id names the model"
    assert "COPY --from=builder /opt/dockyard/models /opt/dockyard/models" in text
    assert "COPY dockyard/haproxy.cfg dockyard/gateway.lua dockyard/serve.py dockyard/serve.json /opt/dockyard/" \
        in text
    for pair in ('DOCKYARD_SERVE_NAME="acme/chat"', 'DOCKYARD_SERVE_CONTINUOUS_BATCHING="false"',
                 'DOCKYARD_SERVE_KEY_SOURCE="file:/run/secrets/key"', 'DOCKYARD_SERVE_ADMIN_ROUTES="false"',
                 'HOME="/home/dockyard"'):
        assert pair in text
    assert "user.sh dockyard 1000 any-uid" in text, "group 0 may write the home (any UID)"
    launcher = json.loads(result.files["dockyard/serve.json"])
    assert launcher["server"] == ["transformers", "serve", "--host", "127.0.0.1", "--port", "8001"]
    assert launcher["warm_up"] == {"method": "POST", "path": "/v1/completions"}
    assert launcher["gateway"] == ["/usr/sbin/haproxy", "-f", "/opt/dockyard/haproxy.cfg", "-db"]
    assert result.files["dockyard/serve.py"].startswith('"""dockyard\'s serve launcher')


def test_a_port_leaves_room_for_the_loopback_ports(tmp_path: Path) -> None:
    from dockyard.errors import DockyardError

    with pytest.raises(DockyardError, match=r"port = 65533 or lower"):
        plan(tmp_path, 'model = "mount:/models/m"\nport = 65535\n')
