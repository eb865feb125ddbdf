"""dockyard: slim a virtualenv in the builder stage, then keep exactly the bytecode asked for.

    python slim.py --venv /opt/venv --bytecode loaded|all|none [--slim [--strip] [--keep-tools]]
                   [--keep-headers] [--probe probe.py --plan plan.json]

--slim drops what is never needed at run time: pip, and setuptools and wheel unless an installed
package requires them or --keep-headers says something JIT-compiles (--keep-tools keeps all three, for
CI images that install the repository at job time); torch/include and torch's CMake
files (unless --keep-headers); torch/test, torch's C++ test programs in torch/bin (test_api, test_jit,
...), its test libraries and protoc (torch_shm_manager stays); `tests` folders; type stubs (.pyi) but
those lazy_loader reads at run time; static libraries; documentation. Identical files become hard
links. --strip removes the symbol tables of the shared libraries in site-packages
(`strip --strip-unneeded`: the dynamic symbols stay, so they load and link as before; only symbolized
C++ backtraces lose names; ~90 MB of libtorch_cpu.so, ~20 MB of llvmlite). A library is kept
stripped only if that saves at least 4 KB and it still loads after (dlopen in a fresh interpreter);
else the original comes back. auditwheel rewrites wheels' libraries with
patchelf and binutils' strip corrupts some of them (seen: numpy's and scipy's OpenBLAS and libgfortran,
"ELF load command address/offset not page-aligned"); the test catches exactly those.
The warm-up below runs after the removal, so a removal that breaks an import fails the build.
Bytecode: "loaded" runs the probe's warm-up (imports and a tiny model) and compiles the
source files it loaded (--no-debug-ranges: without the column tables of 3.11+ tracebacks, for serve
images; --stdlib-list FILE: and lists the standard library's files it loaded, whose bytecode a serve
image's root keeps); "all" compiles everything; "none" keeps none. Bytecode is written in the
unchecked-hash mode so it stays valid whatever file times the copy into the final stage gives, and is
reproducible.
"""

from __future__ import annotations

import argparse
import compileall
import os
import py_compile
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

UNCHECKED = py_compile.PycInvalidationMode.UNCHECKED_HASH
# loaded only by torch's own C++ tests (torch.ops.load_library in test/), never linked by torch itself
TORCH_TEST_LIBRARIES = ("libbackend_with_compiler.so", "libaoti_custom_ops.so")
# numpy's extension modules that only its test suite imports (numpy/_core/tests, removed with `tests`)
NUMPY_TEST_MODULES = ("_multiarray_tests", "_simd", "_umath_tests", "_rational_tests", "_struct_ufunc_tests",
                      "_operand_flag_tests")


def size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def remove(paths: list[Path], label: str) -> None:
    total = 0
    for path in paths:
        if not path.exists() and not path.is_symlink():
            continue
        total += size(path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    print(f"dockyard slim: {label}: {total / 1e6:.1f} MB")


def site_packages(venv: Path) -> Path:
    found = list(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise SystemExit(f"no site-packages under {venv}")
    return found[0]


def required_by_others(names: set[str]) -> set[str]:
    """Which of `names` an installed distribution requires in this environment (pip check must pass)."""
    from importlib import metadata

    try:
        from packaging.requirements import Requirement
    except ImportError:  # packaging comes with transformers; pip vendors it too
        from pip._vendor.packaging.requirements import Requirement  # type: ignore[assignment]
    needed = set()
    for dist in metadata.distributions():
        if (dist.metadata["Name"] or "").lower() in names:
            continue
        for text in dist.requires or []:
            req = Requirement(text)
            if req.name.lower() in names and (req.marker is None or req.marker.evaluate({"extra": ""})):
                needed.add(req.name.lower())
    return needed


def slim(venv: Path, keep_headers: bool, keep_tools: bool, strip: bool) -> None:
    site = site_packages(venv)
    if not keep_tools:
        drop_tools(venv, site, keep_headers)
    if not keep_headers:
        remove([site / "torch" / "include", site / "torch" / "share" / "cmake"], "torch headers and CMake files")
    torch_bin = site / "torch" / "bin"
    tests = [*torch_bin.glob("test_*"), *torch_bin.glob("*Test"), *torch_bin.glob("protoc*"),
             *(site / "torch" / "lib" / name for name in TORCH_TEST_LIBRARIES), *site.glob("torch/lib/*test*.so")]
    remove([site / "torch" / "test", *tests], "torch C++ tests, test libraries and protoc")
    remove([p for p in site.rglob("tests") if p.is_dir()], "tests folders")
    remove([p for name in NUMPY_TEST_MODULES for p in site.glob(f"numpy/_core/{name}.*.so")], "numpy's test modules")
    remove([p for p in site.rglob("*.pyi") if p.is_file() and not stub_loaded(p)], "type stubs")
    remove([p for p in site.rglob("*.a") if p.is_file()], "static libraries")
    remove([venv / "share" / "doc", venv / "share" / "man"], "documentation")
    if strip:
        strip_libraries(site)
    deduplicate(venv)


def drop_tools(venv: Path, site: Path, keep_headers: bool) -> None:
    droppable = {"setuptools", "wheel"} - (required_by_others({"setuptools", "wheel"}) if not keep_headers
                                           else {"setuptools", "wheel"})
    tools = ["pip", *sorted(droppable)]
    paths = [site / n for n in tools] + [p for n in tools for p in site.glob(f"{n}-*.dist-info")]
    if "setuptools" in droppable:
        paths += [site / "pkg_resources", site / "_distutils_hack", site / "distutils-precedence.pth"]
    remove(paths + list(venv.glob("bin/pip*")), f"{', '.join(tools)}")


def strip_libraries(site: Path) -> None:
    """Symbol tables of site-packages' shared libraries, each kept only if the library still loads."""
    strip = shutil.which("strip")
    if strip is None:
        print("dockyard slim: no strip (binutils) in this stage: shared libraries kept as they are")
        return
    candidates = [p for p in sorted(site.rglob("*.so*")) if p.is_file() and not p.is_symlink()
                  and (p.suffix == ".so" or ".so." in p.name) and _is_elf(p)]
    # vendored libraries first (auditwheel's *.libs folders, torch/lib): a module that links a broken one
    # fails to load too, so it is tested once its dependencies are known good or restored
    vendored = [p for p in candidates if p.parent.name.endswith(".libs") or p.parent == site / "torch" / "lib"]
    rest = [p for p in candidates if p not in set(vendored)]
    saved, stripped, restored = 0, set[Path](), list[str]()
    for group in (vendored, rest):
        group_saved, group_stripped, group_restored = _strip_tested(strip, group, site)
        saved += group_saved
        stripped |= group_stripped
        restored += group_restored
    kept = len(stripped)
    print(f"dockyard slim: symbol tables of {kept} of {len(candidates)} shared libraries: {saved / 1e6:.1f} MB")
    update_records(site, stripped)
    if restored:
        print(f"dockyard slim: kept as they were, they do not load stripped: {', '.join(restored)}")


def update_records(site: Path, changed: set[Path]) -> None:
    """Each distribution's RECORD gets the new hash and size of the libraries strip changed (only
    those), so they still match their manifest (pip, `dockyard audit`'s ownership check)."""
    import base64
    import csv
    import hashlib
    import io

    fixed = 0
    for record in sorted(site.glob("*.dist-info/RECORD")):
        rows = list(csv.reader(io.StringIO(record.read_text(encoding="utf-8"))))
        edited = False
        for row in rows:
            if len(row) != 3 or not row[1].startswith("sha256="):
                continue
            path = site / row[0]
            if path not in changed:
                continue
            digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
            row[1], row[2] = f"sha256={digest}", str(path.stat().st_size)
            edited = True
            fixed += 1
        if edited:
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(rows)
            record.write_text(out.getvalue(), encoding="utf-8")
    print(f"dockyard slim: RECORD entries updated for {fixed} changed files")


def _strip_tested(strip: str, paths: list[Path], site: Path) -> tuple[int, set[Path], list[str]]:
    """Strip each library; keep it stripped if that saved MIN_SAVING bytes and it still loads."""
    backups = Path(tempfile.mkdtemp(prefix="dockyard-strip-"))
    stripped: list[tuple[Path, Path, int]] = []
    for index, path in enumerate(paths):
        backup = backups / str(index)
        shutil.copy2(path, backup)
        before = path.stat().st_size
        done = subprocess.run([strip, "--strip-unneeded", str(path)], capture_output=True)
        if done.returncode == 0 and before - path.stat().st_size >= MIN_SAVING:
            stripped.append((path, backup, before))
        else:  # nothing worth the risk of a rewritten file
            shutil.copy2(backup, path)
    saved = 0
    kept = set()
    restored = []
    for (path, backup, before), ok in zip(stripped, _loads([p for p, _, _ in stripped]), strict=True):
        if ok:
            saved += before - path.stat().st_size
            kept.add(path)
        else:
            shutil.copy2(backup, path)
            restored.append(str(path.relative_to(site)))
    shutil.rmtree(backups)
    return saved, kept, restored


MIN_SAVING = 4096
LOAD = "import ctypes, sys\ntry:\n    ctypes.CDLL(sys.argv[1])\nexcept OSError:\n    sys.exit(1)\n"


def _loads(paths: list[Path]) -> list[bool]:
    """Whether each library loads, each in a fresh interpreter (a broken library may crash it)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(path: Path) -> bool:
        try:
            done = subprocess.run([sys.executable, "-c", LOAD, str(path)], capture_output=True, timeout=120)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(one, paths))


def _is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def stub_loaded(stub: Path) -> bool:
    """A stub that code reads at run time: lazy_loader.attach_stub (librosa, scikit-image ...) builds a
    module's lazy imports from its own .pyi."""
    module = stub.with_suffix(".py")
    try:
        return module.is_file() and "attach_stub" in module.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def deduplicate(root: Path, minimum: int = 64 * 1024) -> None:
    """Identical files (wheels cannot carry symlinks, so libfoo.so, .so.1 and .so.1.2 are often three
    copies) become hard links to one copy: a layer stores each once."""
    import hashlib

    by_size: dict[int, list[Path]] = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size >= minimum:
            by_size.setdefault(path.stat().st_size, []).append(path)
    saved = 0
    for size, paths in by_size.items():
        if len(paths) < 2:
            continue
        first: dict[str, Path] = {}
        for path in sorted(paths):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest not in first:
                first[digest] = path
                continue
            original = first[digest]
            if path.stat().st_ino == original.stat().st_ino or path.stat().st_mode != original.stat().st_mode:
                continue
            path.unlink()
            os.link(original, path)
            saved += size
    print(f"dockyard slim: identical files hard-linked: {saved / 1e6:.1f} MB")


def clear_bytecode(root: Path) -> None:
    remove([p for p in root.rglob("__pycache__") if p.is_dir()], "existing bytecode")


def compile_loaded(venv: Path, probe: str, plan: str, no_debug_ranges: bool = False, stdlib_list: str = "") -> None:
    listing = Path("/dev/shm") / "dockyard-loaded.txt"
    if not listing.parent.is_dir():
        listing = Path(os.environ.get("TMPDIR", "/tmp")) / "dockyard-loaded.txt"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HF_HUB_OFFLINE": "1"}
    subprocess.run([str(venv / "bin" / "python"), probe, "--plan", plan, "--warmup", str(listing)],
                   check=True, env=env)
    files = [Path(line) for line in listing.read_text().splitlines() if line]
    listing.unlink()
    if stdlib_list:  # the standard library's modules the warm-up loaded: a serve image's root keeps their bytecode
        stdlib = sysconfig.get_paths()["stdlib"]
        Path(stdlib_list).parent.mkdir(parents=True, exist_ok=True)
        Path(stdlib_list).write_text("".join(f"{p}\n" for p in files if str(p).startswith(stdlib + "/")))
    prefix = str(venv.resolve())
    keep = [str(path) for path in files if str(path.resolve()).startswith(prefix) and path.exists()]
    # -X no_debug_ranges leaves out the column tables of Python 3.11+ (a traceback's ^^^ marks): a
    # flag of the compiling interpreter, so the compile runs in one of its own.
    flags = ["-X", "no_debug_ranges"] if no_debug_ranges else []
    code = ("import py_compile, sys\nfor f in sys.argv[1:]:\n"
            "    py_compile.compile(f, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)")
    for start in range(0, len(keep), 500):
        subprocess.run([sys.executable, *flags, "-c", code, *keep[start:start + 500]], check=True)
    print(f"dockyard slim: bytecode kept for {len(keep)} loaded modules"
          + (" (without column tables)" if no_debug_ranges else ""))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venv", default=sys.prefix)
    parser.add_argument("--bytecode", choices=("loaded", "all", "none"), default="loaded")
    parser.add_argument("--slim", action="store_true")
    parser.add_argument("--keep-headers", action="store_true")
    parser.add_argument("--keep-tools", action="store_true")
    parser.add_argument("--strip", action="store_true")
    parser.add_argument("--probe")
    parser.add_argument("--plan")
    parser.add_argument("--stdlib-list", default="", help="write the standard library files the warm-up loaded here")
    parser.add_argument("--no-debug-ranges", action="store_true",
                        help="compile without the column tables of 3.11+ tracebacks (about 8%% less bytecode)")
    args = parser.parse_args()
    venv = Path(args.venv)
    if args.slim:
        slim(venv, args.keep_headers, args.keep_tools, args.strip)
    clear_bytecode(venv)
    if args.bytecode == "all":
        compileall.compile_dir(str(site_packages(venv)), quiet=1, workers=0, invalidation_mode=UNCHECKED)
        print("dockyard slim: bytecode compiled for every module")
    elif args.bytecode == "loaded":
        if not args.probe or not args.plan:
            raise SystemExit("--bytecode loaded needs --probe and --plan")
        compile_loaded(venv, args.probe, args.plan, args.no_debug_ranges, args.stdlib_list)
    print(f"dockyard slim: venv is now {size(venv) / 1e6:.1f} MB (stdlib at {sysconfig.get_paths()['stdlib']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
