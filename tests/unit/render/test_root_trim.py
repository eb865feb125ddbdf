"""A slim serve image's root (issue 24): the rows of knowledge/serve.toml [[root-trim.rows]], the stage
that applies them and the final stage that starts from scratch on it. The engine test
(tests/engine/test_serve.py) builds one and runs the server on it."""

from __future__ import annotations

from pathlib import Path

from dockyard.knowledge.serving import serve_knowledge
from dockyard.render.renderer import render
from dockyard.resolve.resolver import resolve
from dockyard.spec.model import load

# What a served model runs or loads: never in a row (Python, its libraries, TLS, the init, the shell
# subprocesses get, time zones, the package database, the gateway and every library HAProxy links).
KEPT = ("python3.11", "python3.11-minimal", "libpython3.11-stdlib", "libpython3.11-minimal", "libc6", "libc-bin",
        "libssl3", "libstdc++6", "libgcc-s1", "zlib1g", "libffi8", "libsqlite3-0", "libexpat1", "ca-certificates",
        "tini", "dash", "tzdata", "dpkg", "libzstd1", "base-files",
        "haproxy", "liblua5.3-0", "libopentracing-c-wrapper0", "libopentracing1", "libpcre2-8-0", "libcrypt1",
        "libsystemd0", "libgcrypt20", "libgpg-error0", "liblz4-1", "liblzma5", "libcap2")


def test_every_row_says_why_and_where_the_fact_comes_from() -> None:
    sk = serve_knowledge()
    assert sk.root_trim and sk.root_keep == "copyright"
    for row in sk.root_trim:
        assert row.why and row.sources and (row.packages or row.paths), row.name
        assert set(row.sources) <= set(sk.sources), row.name
        assert not set(row.packages) & set(KEPT), row.name
        assert all(path.startswith("/") for path in row.paths), row.name


def test_only_slim_serve_images_are_trimmed(tmp_path: Path) -> None:
    serve = resolve(load("cpu-serve"))
    assert serve.root_trim and serve.root_trim_paths and serve.expectations()["root_trimmed"] is True
    assert not resolve(load("cpu-inference")).root_trim, "a runtime image others build upon keeps apt"
    spec = tmp_path / "fat.toml"
    spec.write_text('[image]\nname = "fat"\nextends = "cpu-serve"\nslim = false\n\n'
                    '[serve]\nmodel = "mount:/models/m"\n')
    fat = resolve(load(str(spec)))
    assert not fat.root_trim and not fat.root_trim_paths and "root_trimmed" not in fat.expectations()
    assert "FROM base AS runtime" in render(fat).dockerfile


def test_the_final_stage_starts_from_scratch_on_the_trimmed_root() -> None:
    rendered = render(resolve(load("cpu-serve")))
    text = rendered.dockerfile
    root, runtime = text.index("FROM base AS root"), text.index("FROM scratch AS runtime")
    assert root < runtime
    assert "sh /run/dockyard/root-trim.sh /run/dockyard/root-trim.txt /run/dockyard/loaded-stdlib.txt" in text
    assert "--mount=type=bind,from=builder,source=/opt/dockyard/loaded-stdlib.txt" in text
    final = text[runtime:]
    assert final.index("COPY --from=root / /") < final.index("COPY --from=builder /opt/venv /opt/venv")
    assert 'LANG="C.UTF-8"' in final, "the base stage's environment again: scratch has none"
    assert "--stdlib-list /opt/dockyard/loaded-stdlib.txt" in text and "--no-debug-ranges" in text
    listing = rendered.files["dockyard/root-trim.txt"].splitlines()
    assert "keep copyright" in listing and "package apt" in listing and "path /usr/share/doc/*" in listing
    assert any(line.startswith("# apt and what only it links: ") for line in listing)
    assert "dockyard/root-trim.sh" in rendered.files
