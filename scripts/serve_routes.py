#!/usr/bin/env python3
"""Read, for each transformers release on PyPI, how `transformers serve` is spelled and which HTTP routes
its server answers: the facts behind knowledge/serve.toml's [[cli]] rows (model argument, options,
routes), read from the wheels' own code (through HTTP range requests: a few kB per release).

    python scripts/serve_routes.py                 # every final release since 4.52, grouped into ranges
    python scripts/serve_routes.py 5.24.0 5.25.0   # these releases, one row each

Routes are the `@app.<method>("<path>")` decorators of the server module (cli/serving/server.py from
5.5, cli/serve.py before, commands/serving.py in 4.x); the model argument and options are the
parameters of the `Serve` command (typer, 5.x) or the `add_argument` calls (argparse, 4.x). Compare the
output with serve.toml and update the rows (with this script as their source) when a release differs.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import json
import sys

from packaging.version import Version

from dockyard.knowledge import pypi

SERVER_FILES = ["transformers/cli/serving/server.py", "transformers/cli/serve.py", "transformers/commands/serving.py"]
METHODS = {"get", "post", "put", "delete", "patch", "options", "head", "api_route", "websocket"}


def routes(source: str) -> set[str]:
    """'METHOD /path' for every route decorator of a FastAPI app in `source`."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute) \
                        and decorator.func.attr in METHODS and decorator.args \
                        and isinstance(decorator.args[0], ast.Constant) and isinstance(decorator.args[0].value, str):
                    found.add(f"{decorator.func.attr.upper()} {decorator.args[0].value}")
    return found


def cli(source: str) -> tuple[str, list[str]]:
    """(how the model is passed, the options) of the serve command in `source`."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in ("Serve", "ServeCommand"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    args = [a for a in item.args.args if a.arg != "self"]
                    typer = [a for a in args if a.annotation is not None and "typer" in ast.unparse(a.annotation)]
                    if typer:
                        positional = [a.arg for a in typer if "typer.Argument" in ast.unparse(a.annotation or a)]
                        options = sorted("--" + a.arg.replace("_", "-") for a in typer
                                         if "typer.Option" in ast.unparse(a.annotation or a)
                                         and "hidden=True" not in ast.unparse(a.annotation or a))
                        model = "positional" if positional else "--force-model"
                        return model, options
    options = sorted({node.args[0].value for node in ast.walk(tree)
                      if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                      and node.func.attr == "add_argument" and node.args and isinstance(node.args[0], ast.Constant)
                      and str(node.args[0].value).startswith("--")})
    return ("--force-model" if "--force-model" in options else "none"), [str(o) for o in options]


def facts(document: dict[str, object], version: str) -> dict[str, object]:
    url = pypi.release_wheel(document, version)  # type: ignore[arg-type]
    if url is None:
        return {"version": version, "error": "no wheel"}
    files = pypi.wheel_files(url, SERVER_FILES)
    found: set[str] = set()
    for name in SERVER_FILES:
        if name in files:
            found |= routes(files[name])
    command = files.get("transformers/cli/serve.py") or files.get("transformers/commands/serving.py") or ""
    model, options = cli(command) if command else ("none", [])
    return {"version": version, "model": model, "options": options, "routes": sorted(found),
            "files": sorted(files)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("versions", nargs="*", help="releases to read (default: every final release since 4.52)")
    parser.add_argument("--json", action="store_true", help="one JSON object per release")
    args = parser.parse_args()
    document = pypi.project("transformers")
    versions = args.versions or sorted(
        (v for v, files in document["releases"].items()
         if files and not Version(v).is_prerelease and Version(v) >= Version("4.52")
         and not all(f.get("yanked") for f in files)), key=Version)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        rows = list(pool.map(lambda v: facts(document, v), versions))
    if args.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return 0
    groups: list[tuple[list[str], dict[str, object]]] = []
    for row in rows:
        key = {k: row.get(k) for k in ("model", "options", "routes")}
        if groups and groups[-1][1] == key:
            groups[-1][0].append(str(row["version"]))
        else:
            groups.append(([str(row["version"])], key))
    for members, key in groups:
        print(f"{members[0]} .. {members[-1]} ({len(members)} releases)")
        print(f"  model: {key['model']}")
        print(f"  options: {' '.join(key['options'])}")  # type: ignore[arg-type]
        print(f"  routes: {', '.join(key['routes'])}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
