"""resolve for profile = "serve": the server's command line, device, packages, the gateway's routes and
ports, the run-time settings' defaults, and what the model needs.

A `path:` model is read here (config.json, processor files): the modalities it needs must be in
[image].modalities, and a config that names its own code (auto_map) needs [serve].trust-remote-code.
Refusals go into the resolve context's problems, each naming the file, the table and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.version import Version

from dockyard.knowledge.serving import ServeKnowledge, serve_knowledge
from dockyard.resolve.context import Context, stale_hint
from dockyard.resolve.plan import AddonPlan, Package, ServePlan, TorchPlan, TransformersPlan
from dockyard.spec.modelfolder import LARGE_BYTES, ModelFolder, read_model_json
from dockyard.spec.serve import HEALTH_PATH, MODEL_NAME, ServeSpec

BNB_ADDON = "bitsandbytes"
LAUNCHER = ("python", "/opt/dockyard/serve.py")  # starts the server and the gateway under the image's init
REMOTE_CODE_FILES = ("config.json", "tokenizer_config.json", "preprocessor_config.json")
CHAT_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")
CHAT_TEMPLATE_KEYS = ("tokenizer_config.json", "processor_config.json")


def _where(ctx: Context, key: str, value: object) -> str:
    return ctx.where(key, value, "serve")


def serve_packages(ctx: Context, python: str) -> list[Package]:
    """The serving extra's packages, pinned (pins.toml) like every other package of the plan."""
    if ctx.spec.serve is None:
        return []
    found = []
    for name in serve_knowledge().packages:
        pin = ctx.k.pin(name, python)
        found.append(Package(name, pin["version"] if pin else None))
    return found


def root_trim(trimmed: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The packages and paths a slim serve image's root leaves out of its base (serve.toml [[root-trim.rows]])."""
    if not trimmed:
        return (), ()
    rows = serve_knowledge().root_trim
    return (tuple(p for row in rows for p in row.packages), tuple(p for row in rows for p in row.paths))


def resolve_serve(ctx: Context, torch: TorchPlan, transformers: TransformersPlan,
                  addons: tuple[AddonPlan, ...]) -> ServePlan | None:
    spec, serve = ctx.spec, ctx.spec.serve
    if serve is None:
        return None
    sk = serve_knowledge()
    if spec.torch == "none":
        ctx.fail("torch", "none", 'the serve profile runs a model, which needs torch. Nearest valid choices: '
                 'leave torch unset (the newest that fits), or profile = "runtime" for an image without a server',
                 fixed=True)
        return None
    cli = sk.cli_for(transformers.version)
    if cli is None and transformers.version is not None and Version(transformers.version) >= Version(sk.newest()):
        ctx.fail("transformers", spec.transformers or transformers.version,
                 f"the serve CLI and routes of transformers {transformers.version} are not in the knowledge base "
                 f"(knowledge/serve.toml reads releases up to the {sk.newest()} line; scripts/serve_routes.py reads a "
                 f"new one). Nearest valid choices: transformers = \"{newest_served(ctx, sk)}\". "
                 f"{stale_hint(ctx.k)}", fixed=spec.transformers is not None,
                 short=f"transformers {transformers.version} is newer than dockyard's serve knowledge")
        return None
    if cli is None and transformers.version is not None:
        ctx.fail("transformers", spec.transformers or transformers.version,
                 f"transformers {transformers.version} has no `transformers serve` that dockyard can drive "
                 f"(an OpenAI-compatible server with {HEALTH_PATH} starts at {sk.oldest()}; source: "
                 f"{sk.source_text(['cli-5-0', 'cli-4'])}). Nearest valid choices: transformers = \"{sk.oldest()}\" "
                 "or newer, or leave it unset", fixed=spec.transformers is not None,
                 short=f"transformers {transformers.version} has no `transformers serve` that dockyard can drive")
        return None
    device = _device(ctx, sk, serve)
    if serve.quantization and not any(a.name == BNB_ADDON for a in addons):
        ctx.fail("quantization", serve.quantization, 'needs the bitsandbytes add-on, which the plan does not '
                 'have. Nearest valid choices: addons = ["bitsandbytes"] in [image], or remove quantization',
                 fixed=True, table="serve")
    modalities = _model_needs(ctx, sk, serve) if serve.model.kind == "path" else ()
    if serve.model.kind != "path":
        ctx.notes.append(f"{_where(ctx, 'model', serve.model.spelled())}: a {serve.model.kind}: model is not read "
                         "before the build, so the modalities it needs are not checked; [image].modalities = "
                         f"{list(spec.modalities)} is what the image gets")
    if serve.model.kind == "hub" and serve.trust_remote_code:
        ctx.warnings.append(f"{_where(ctx, 'model', serve.model.spelled())}: trust-remote-code = true runs the code "
                            "this Hub repository carries inside the server, unread by dockyard; pin a full commit "
                            "you have reviewed")
    if serve.model.kind == "hub" and not serve.model.pinned:
        ctx.warnings.append(f"{_where(ctx, 'model', serve.model.spelled())}: not pinned to a full 40-hex commit; a "
                            "rebuild may bake different weights (write hub:ORG/NAME@<commit sha>)")
    gateway = sk.gateway
    top = max(gateway.upstream_offset, gateway.metrics_offset)
    if serve.port > 65535 - top:
        ctx.fail("port", serve.port, f"the server and the gateway's exporter listen on 127.0.0.1 at the ports "
                 f"after it (port + {gateway.upstream_offset}, port + {gateway.metrics_offset}). Nearest valid "
                 f"choices: port = {65535 - top} or lower, e.g. 8000", fixed=True, table="serve")
    model_option = "" if cli is None or cli.model == "positional" else cli.model
    upstream = serve.port + gateway.upstream_offset
    name = serve.name or (serve.model.ref if serve.model.kind == "hub" else
                          spec.name if MODEL_NAME.match(spec.name) else "model")
    cb = serve.continuous_batching
    if cb is None:
        cb = sk.continuous_batching.get(spec.target, False)
    cb_memory = serve.cb_memory_percent or sk.cb_memory_percent.get(spec.target)
    values: dict[str, str | bool] = {
        "name": name, "device": device, "dtype": serve.dtype or "", "quantization": serve.quantization or "",
        "continuous-batching": cb, "trust-remote-code": serve.trust_remote_code, "api-key": serve.api_key or "",
        "cb-memory-percent": str(cb_memory) if cb_memory else "", "admin-routes": serve.admin_routes,
        "warm-up": serve.warm_up}
    settings = tuple((row.env, _text(values[row.key])) for row in sk.settings)
    server = ("transformers", "serve", "--host", "127.0.0.1", "--port", str(upstream))
    command = (*server, *((model_option, name) if model_option else (name,)))
    for row in sk.settings:
        value = values[row.key]
        if row.flag and value not in ("", False):
            command += (row.flag,) if value is True else (row.flag, str(value))
    unknown = [word for word in command if word.startswith("--") and cli and cli.options and word not in cli.options
               and word not in ("--host", "--port")]
    for option in unknown:
        ctx.fail("transformers", spec.transformers or transformers.version,
                 f"`transformers serve` of transformers {transformers.version} has no {option} option (its options: "
                 f"{', '.join(cli.options) if cli else '-'}; source: knowledge/serve.toml, "
                 f"{sk.source_text(['routes'])}). Nearest valid choices: drop the [serve] key that sets it, or a "
                 "release that has it", table="image")
    return ServePlan(serve.model, serve.port, device, LAUNCHER, cli.imports if cli else (), modalities,
                     serve.grace_seconds, name=name,
                     server=server, server_command=command,
                     model_option=model_option, cb_memory_option=cli.cb_memory_option if cli else "",
                     routes=cli.routes if cli else (),
                     admin_routes=cli.admin if cli else (), warm_up_route=cli.warm_up if cli else "",
                     upstream_port=upstream, metrics_port=serve.port + gateway.metrics_offset, settings=settings,
                     excluded=sk.baked_exclude if serve.model.baked else ())


def _text(value: str | bool) -> str:
    """A setting as the image's ENV carries it."""
    return ("true" if value else "false") if isinstance(value, bool) else value


def newest_served(ctx: Context, sk: ServeKnowledge) -> str:
    """The newest known transformers release whose serve CLI the knowledge has read."""
    return next((v for v in reversed(ctx.k.transformers_versions) if sk.covers(v)), sk.newest())


def _device(ctx: Context, sk: ServeKnowledge, serve: ServeSpec) -> str:
    default = sk.devices.get(ctx.spec.target, "")
    if serve.device is None:
        if not default:
            ctx.fail("device", None, f"transformers serve has no default device for target {ctx.spec.target} "
                     '(knowledge/serve.toml [device]); set device = "cpu" or another device the server supports',
                     fixed=True, table="serve")
        return default or "cpu"
    valid = tuple(dict.fromkeys(d for d in (default, "cpu", "auto") if d))  # the target's device once
    if serve.device not in valid:
        choices = ", ".join(f'"{d}"' for d in valid[:-1]) + f' or "{valid[-1]}"'
        ctx.fail("device", serve.device, f"target {ctx.spec.target} has no {serve.device} device (its torch wheels "
                 f"answer to {default or 'no accelerator'}). Nearest valid choices: device = {choices}",
                 fixed=True, table="serve")
    return serve.device


def _model_needs(ctx: Context, sk: ServeKnowledge, serve: ServeSpec) -> tuple[str, ...]:
    """The modalities a local model folder needs; refuses remote code without consent. Only the files the
    image gets are read (modelfolder's listing), each a regular file read with a bound."""
    model = serve.model
    assert model.folder is not None, "a path: model is walked when the spec is read"
    listing = {f.relative: f.source for f in model.folder.files}
    spelled = model.spelled()
    where = ctx.where("model", spelled, "serve")
    _report_size(ctx, model.folder, where)
    if "config.json" not in listing:
        ctx.fail("model", spelled, f"{model.folder.path} has no config.json, so it is not a transformers model folder. "
                 "Save the model there with model.save_pretrained(DIR) and tokenizer.save_pretrained(DIR)",
                 fixed=True, table="serve")
        return ()
    documents = {name: read_model_json(path, where) for name, path in listing.items()
                 if name in {"config.json", *(rule.file for rule in sk.files), *REMOTE_CODE_FILES,
                             *CHAT_TEMPLATE_KEYS}}
    config = documents["config.json"]
    if not config:
        ctx.fail("model", spelled, f"{model.folder.path / 'config.json'} is not a JSON object", fixed=True,
                 table="serve")
        return ()
    remote = [name for name in REMOTE_CODE_FILES if "auto_map" in documents.get(name, {})]
    if remote and not serve.trust_remote_code:
        ctx.fail("trust-remote-code", None, f"the model in {model.folder.path} needs its own code (auto_map in "
                 f"{', '.join(remote)}), which runs inside the server. Set trust-remote-code = true in [serve] if "
                 "you trust that code, or use a model that transformers supports natively", fixed=True, table="serve")
    if not has_chat_template(listing, documents):
        ctx.warnings.append(f"{where}: {model.folder.path} has no chat template (chat_template in "
                            "tokenizer_config.json, chat_template.jinja or chat_template.json), so "
                            "/v1/chat/completions will answer 500 (the server's ValueError: tokenizer.chat_template "
                            "is not set) and `dockyard up` will refuse the image; a chat model's tokenizer saved "
                            "with save_pretrained carries one, a base model serves /v1/completions only")
    needs = needed_modalities(sk, documents, config)
    for modality, reason in needs:
        if modality not in ctx.spec.modalities:
            ctx.fail("model", spelled, f"the model needs the {modality} modality ({reason}), but "
                     f"[image].modalities = {list(ctx.spec.modalities)} leaves it out. Nearest valid choices: "
                     f"modalities = {sorted({*ctx.spec.modalities, modality})}", fixed=True, table="serve")
    return tuple(sorted({"text", *(m for m, _ in needs)}))


def has_chat_template(listing: Mapping[str, Path], documents: Mapping[str, dict[str, Any]]) -> bool:
    """Where transformers' save_pretrained puts a chat template: a file of its own, or a key of the tokenizer's
    (or processor's) config (`listing`: the folder's files; `documents`: those configs read)."""
    if any(name in CHAT_TEMPLATE_FILES or name.startswith("additional_chat_templates/") for name in listing):
        return True
    return any(documents.get(name, {}).get("chat_template") for name in CHAT_TEMPLATE_KEYS)


def _report_size(ctx: Context, folder: ModelFolder, where: str) -> None:
    """What the model layer will hold; a warning when it is large or is the spec's own folder."""
    ctx.notes.append(f"{where}: the model layer gets {folder.summary()} from {folder.path}")
    if folder.size > LARGE_BYTES:
        ctx.warnings.append(f"{where}: the model folder holds {folder.size / 1e9:,.1f} GB; check that it holds only "
                            "the model (no checkpoints, datasets or caches): all of it goes into the image")
    if folder.path == Path(ctx.spec.root).resolve() or (folder.path / Path(ctx.spec.source).name).is_file():
        ctx.warnings.append(f"{where}: the model folder is the spec's own folder; everything in it (but .git, "
                            ".dockerignore'd paths and dockyard's outputs) goes into the image")
    if folder.root != Path(ctx.spec.root).resolve():
        ctx.notes.append(f"{where}: the model comes from the spec that names it, in {folder.root} (this spec "
                         "extends it)")


def needed_modalities(sk: ServeKnowledge, documents: Mapping[str, dict[str, Any]],
                      config: dict[str, Any]) -> list[tuple[str, str]]:
    """(modality, why) for a model folder: from its model_type (knowledge/model_types.toml) and its files
    (`documents`: the files the rules name that the folder holds, as JSON objects)."""
    found: dict[str, str] = {}
    model_type = str(config.get("model_type", ""))
    for modality in sk.model_types.get(model_type, ()):
        found.setdefault(modality, f"model_type {model_type}; source: {sk.model_types_source}")
    for rule in sk.files:
        if rule.matches(documents.get(rule.file)):
            detail = f"{rule.key} in {rule.file}" if rule.key else rule.file
            found.setdefault(rule.modality, detail)
    return sorted(found.items())
