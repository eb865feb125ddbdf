"""presets, show, check, render, schema: the spec -> plan -> Dockerfile pipeline without an engine."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dockyard.cli.output import print_gap, print_json, print_note, print_warning, stdout
from dockyard.cli.tables import Column, Listing, show
from dockyard.engine.maps import SiteName, load_maps, site_names
from dockyard.errors import InputError
from dockyard.knowledge.loader import preset_dir, preset_names
from dockyard.render.blocks.common import PIP_INDEX
from dockyard.render.renderer import render
from dockyard.resolve.plan import Plan
from dockyard.resolve.resolver import resolve
from dockyard.spec.fields import json_schema
from dockyard.spec.model import load

SPEC_HELP = "a spec file (TOML) or a preset name (`dockyard presets` lists them)"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("presets", help="list the built-in presets",
                              description="List the built-in presets: one per image of transformers' docker/ "
                                          "folder, plus the default cpu-inference.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_presets)

    p = subparsers.add_parser("show", help="print a preset's spec", description="Print a preset's spec (TOML).")
    p.add_argument("name", help="preset name")
    p.set_defaults(func=cmd_show)

    p = subparsers.add_parser("check", help="resolve a spec and print the plan",
                              description="Resolve a spec against the compatibility knowledge base and print the "
                                          "plan: base images and indexes (as this machine's site maps use them, the "
                                          "public name beside), Python, torch, every pinned package, "
                                          "env, warnings; notes say which preferred choice was passed over and "
                                          "why, gaps which knowledge row is missing and how to supply it. Exit 2 "
                                          "with the reason, and the smallest set of your keys that conflict, "
                                          "when it cannot work. It renders too (in memory), so it refuses what "
                                          "render refuses.")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=cmd_check)

    p = subparsers.add_parser("render", help="write the Dockerfile and build context files",
                              description="Render a spec: the Dockerfile and every file its build needs "
                                          "(scripts, pinned requirements, probe, .dockerignore). Without -o, "
                                          "print the Dockerfile.")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("-o", "--output", type=Path, help="directory to write the build context to")
    p.add_argument("--no-cache-mounts", action="store_true",
                   help="render for an engine without RUN --mount=type=cache (pip --no-cache-dir instead)")
    p.set_defaults(func=cmd_render)

    p = subparsers.add_parser("schema", help="print the JSON Schema of spec files",
                              description="Print the JSON Schema of spec files, for editors and validators.")
    p.set_defaults(func=cmd_schema)


def preset_rows() -> list[dict[str, str]]:
    rows = []
    for name in preset_names():
        spec = load(name)
        meta = dict(spec.preset)
        rows.append({
            "name": name,
            "target": spec.target,
            "profile": spec.profile,
            "torch": spec.torch or "newest",
            "description": meta.get("description", spec.description),
            "reproduces": meta.get("reproduces", ""),
        })
    return rows


def cmd_presets(args: argparse.Namespace) -> int:
    rows = preset_rows()
    if args.json:
        print_json(rows)
        return 0
    table = Listing((Column("name", key=True, style="bold"), Column("target"), Column("profile"), Column("torch"),
                     Column("description")), title=f"{len(rows)} presets")
    for row in rows:
        table.add(*(row[c] for c in ("name", "target", "profile", "torch", "description")))
    show(table, stdout)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    load(args.name)  # validates, and gives a did-you-mean for a wrong name
    path = preset_dir() / f"{args.name}.toml"
    if not path.exists():
        raise InputError(f"{args.name!r} is a spec file, not a preset", "print a file with cat")
    print(path.read_text(encoding="utf-8"), end="")
    return 0


def report_messages(plan: Plan) -> None:
    for warning in plan.warnings:
        print_warning(warning)
    for note in plan.notes:
        print_note(note)
    for gap in plan.gaps:
        print_gap(gap)


def site_of(plan: Plan) -> tuple[SiteName, ...]:
    """The bases and indexes a build on this machine uses (its site maps), beside the plan's public names."""
    return site_names(plan.runtime_base, plan.builder_base, plan.torch.index_url or "", PIP_INDEX,
                      load_maps((), ()))


def plan_table(plan: Plan, site: tuple[SiteName, ...] = ()) -> Listing:
    """The plan as `key: value` rows; bases and indexes as the site uses them, the public name beside."""
    table = Listing((Column("key", key=True, style="bold"), Column("value")), show_header=False,
                    title=f"plan for {plan.name} ({plan.spec.source})")
    used = {row.role: row.shown() for row in site}
    torch = plan.torch
    index = used.get("torch index", torch.index_url or "")
    rows = [
        ("target / profile", f"{plan.target} / {plan.profile}"),
        ("base (final stage)", used.get("base", plan.runtime_base)),
        ("builder", used.get("builder", plan.builder_base) + ("  (compiles)" if plan.compile else "")),
        ("python", plan.python),
        ("torch", f"{torch.version or torch.channel} {torch.variant}" + (f" from {index}" if index else "")),
        ("transformers", plan.transformers.describe() + (f" [{','.join(plan.transformers.extras)}]"
                                                         if plan.transformers.extras else "")),
    ]
    if torch.companions:
        rows.append(("torch companions", ", ".join(p.requirement() + (f" from {p.index_url}" if p.index_url else "")
                                                   for p in torch.companions)))
    if plan.addons:
        addons = (f"{a.requirement}{'  (compiled)' if a.compile else ''}{'  (built from source)' if a.own_step else ''}"
                  f"{'  (from torch index)' if a.index_url else ''}" for a in plan.addons)
        rows.append(("add-ons", "\n".join(addons)))
    if plan.packages:
        rows.append(("packages", "\n".join(p.requirement() for p in plan.packages)))
    if plan.gpu_archs:
        rows.append(("gpu archs", ";".join(plan.gpu_archs)))
    if plan.system_packages:
        rows.append(("system packages", " ".join(plan.system_packages)))
    if plan.build_packages:
        rows.append(("build packages", " ".join(plan.build_packages)))
    if plan.env:
        rows.append(("env", "\n".join(f"{k}={v}" for k, v in plan.env)))
    if plan.serve is not None:
        serve = plan.serve
        rows.append(("serve", f"{serve.model.spelled()} as model {serve.model_id}; gateway on port {serve.port} "
                              f"(API key {serve.api_key or 'off'}, {serve.health_path} {serve.ready_path} /metrics), "
                              f"server on 127.0.0.1:{serve.upstream_port}, device {serve.device}"))
        if serve.modalities:
            rows.append(("model needs", ", ".join(serve.modalities)))
        rows.append(("command", f"{' '.join(plan.cmd)}, which runs {' '.join(serve.server_command)}"))
    if "index" in used and site and next(r for r in site if r.role == "index").mapped:
        rows.append(("package index", used["index"]))
    rows += [
        ("user", f"{plan.user} (uid {plan.uid})"),
        ("slim / bytecode", f"{'yes' if plan.slim else 'no'} / {plan.bytecode}"),
        ("spec digest", plan.digest),
    ]
    for key, value in rows:
        table.add(key, value)
    return table


def cmd_check(args: argparse.Namespace) -> int:
    plan = resolve(load(args.spec))
    render(plan)  # the same validation as `render`: files that exist, the lock, every value for its context
    site = site_of(plan)
    if args.json:
        print_json({**plan.to_json(), "site": {row.role: row.to_json() for row in site}})
    else:
        show(plan_table(plan, site), stdout)
    report_messages(plan)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from dockyard.render.blocks.common import RenderOptions

    plan = resolve(load(args.spec))
    rendered = render(plan, RenderOptions(cache_mounts=not args.no_cache_mounts))
    report_messages(plan)
    if args.output is None:
        print(rendered.dockerfile, end="")
        return 0
    written = rendered.write(args.output, "-o", shared=True)
    print_note(f"wrote {len(written)} files to {args.output} (build it: dockyard build {args.spec})")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0
