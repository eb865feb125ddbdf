"""slim.py's --strip: every library's symbol table goes, but a library that no longer loads stripped
gets its original back (auditwheel-patched libraries that binutils' strip corrupts)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SLIM = Path(__file__).parents[3] / "src" / "dockyard" / "render" / "files" / "slim.py"

pytestmark = pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("strip")), reason="needs gcc and strip")


def slim_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dockyard_slim_under_test", SLIM)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def library(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    source = path.parent / "source.c"
    source.write_text(body + "".join(f"int helper_{i}(int x) {{ return x + {i}; }}\n" for i in range(300)))
    subprocess.run(["gcc", "-g", "-shared", "-fPIC", "-o", str(path), str(source)], check=True)
    source.unlink()
    return path


def test_strip_keeps_only_what_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site-packages"
    good = library(site / "pkg" / "libgood.so", "int good(void) { return 1; }\n")
    fragile = library(site / "pkg.libs" / "libfragile-1234abcd.so.1", "int fragile(void) { return 2; }\n")
    unloadable = site / "pkg" / "libnot.so"
    unloadable.write_bytes(b"\x7fELF" + b"\0" * 60)  # an ELF header strip cannot read
    original = fragile.read_bytes()
    # a strip that corrupts one library the way binutils corrupts a patchelf'd one, and strips the rest
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "strip").write_text(f"#!/bin/sh\ncase \"$2\" in *fragile*) printf 'broken' > \"$2\";; "
                                 f"*) exec {shutil.which('strip')} \"$@\";; esac\n")
    (tools / "strip").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    before = good.stat().st_size
    info = site / "pkg-1.0.dist-info"
    info.mkdir()
    (info / "RECORD").write_text(f"pkg/libgood.so,sha256=old,{before}\npkg/__init__.py,sha256=x,0\n"
                                 "pkg-1.0.dist-info/RECORD,,\n")
    slim_module().strip_libraries(site)
    out = capsys.readouterr().out
    assert good.stat().st_size < before, "the symbol table went"
    subprocess.run([sys.executable, "-c", f"import ctypes; assert ctypes.CDLL({str(good)!r}).good() == 1"],
                   check=True)
    assert fragile.read_bytes() == original, "restored: it no longer loaded stripped"
    assert unloadable.read_bytes() == b"\x7fELF" + b"\0" * 60, "as it was: strip refuses it"
    assert "symbol tables of 1 of 3 shared libraries" in out
    assert "pkg.libs/libfragile-1234abcd.so.1" in out
    digest = base64.urlsafe_b64encode(hashlib.sha256(good.read_bytes()).digest()).rstrip(b"=").decode()
    assert (info / "RECORD").read_text().splitlines() == [f"pkg/libgood.so,sha256={digest},{good.stat().st_size}",
                                                          "pkg/__init__.py,sha256=x,0", "pkg-1.0.dist-info/RECORD,,"]
