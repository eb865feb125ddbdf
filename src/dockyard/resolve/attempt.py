"""One attempt of the search: with the torch release, variant and Python fixed, decide the rest
(transformers, GPU archs, add-ons, modalities, packages, base) and assemble the Plan, or record why not."""

from __future__ import annotations

from dataclasses import replace

from dockyard.knowledge.serving import serve_knowledge
from dockyard.resolve.addons import resolve_addons
from dockyard.resolve.archs import resolve_gpu_archs
from dockyard.resolve.base import resolve_base
from dockyard.resolve.context import Context
from dockyard.resolve.packages import resolve_modalities, resolve_packages
from dockyard.resolve.plan import Plan, TorchPlan
from dockyard.resolve.python import python_choices
from dockyard.resolve.serve import resolve_serve, root_trim, serve_packages
from dockyard.resolve.torch import TorchChoice, torch_plan
from dockyard.resolve.transformers import resolve_transformers

DEFAULT_MAX_JOBS = 2
# System packages each profile adds to the final image: CI jobs check out and install the repository at
# job time (git, git-lfs); development images also compile (compilers and headers).
PROFILE_PACKAGES: dict[str, tuple[str, ...]] = {
    "runtime": (),
    "ci": ("git", "git-lfs"),
    "dev": ("build-essential", "git", "git-lfs"),
    "serve": (),
}
# torch's C++ headers serve only an image that can compile (extension JIT builds).
COMPILERS = frozenset({"build-essential", "g++", "gcc", "clang"})
# What runtime-toolchain adds to the final image besides the compile base and the add-ons' build packages.
TOOLCHAIN = ("build-essential",)


def jit_arch_env(torch: TorchPlan, gpu_archs: tuple[str, ...]) -> dict[str, str]:
    """runtime-toolchain: ops compiled at run time target the plan's GPU archs, as the builder's did."""
    cuda = [a for a in gpu_archs if not a.startswith("gfx")]
    rocm = [a for a in gpu_archs if a.startswith("gfx")]
    if torch.build == "cuda" and cuda:
        return {"TORCH_CUDA_ARCH_LIST": ";".join(cuda)}
    if torch.build == "rocm" and rocm:
        return {"PYTORCH_ROCM_ARCH": ";".join(rocm)}
    return {}


def resolve_archives(ctx: Context, distro: str) -> tuple[tuple[str, str, str, str], ...]:
    """(name, key URL, keyring path, sources line) of each apt archive the spec asks for."""
    found = []
    for name in ctx.spec.apt_archives:
        archive = ctx.k.archives.get(name)
        if archive is None:
            ctx.fail("apt-archives", name, f"unknown archive; known: {', '.join(sorted(ctx.k.archives)) or 'none'} "
                     "(knowledge/targets.toml [archive])", fixed=True)
        elif distro not in archive.distros:
            ctx.fail("apt-archives", name, f"serves {', '.join(archive.distros)}, and this image's final stage is "
                     f"{distro}")
        else:
            found.append((name, archive.key_url, archive.keyring, archive.source_line()))
    return tuple(found)


def attempt(ctx: Context, choice: TorchChoice, python: str | None = None) -> Plan | None:
    """The plan for this choice (None, with ctx.problems saying why, when it cannot work). `python`
    None takes the first candidate (the problems of the Python step are recorded either way)."""
    spec, k = ctx.spec, ctx.k
    ctx.torch_version = choice.version
    pythons = python_choices(ctx, choice.release)
    python = python or pythons[0]
    torch = torch_plan(ctx, choice)
    transformers = resolve_transformers(ctx, torch, python)
    gpu_archs = resolve_gpu_archs(ctx, torch)
    addons, addon_needs = resolve_addons(ctx, torch, python, gpu_archs)
    modal = resolve_modalities(ctx, torch, choice.release, python)
    torch = TorchPlan(torch.version, torch.variant, torch.index_url, torch.channel, torch.build,
                      modal.companions, torch.cuda, torch.rocm, torch.wheel_archs, torch.xla)
    serve = resolve_serve(ctx, torch, transformers, addons)
    if serve is not None:
        transformers = replace(transformers, extras=tuple(sorted({*transformers.extras, "serving"})))
    packages, package_needs = resolve_packages(ctx, python, [*modal.packages, *serve_packages(ctx, python)])
    compile_needed = addon_needs.compile or package_needs.compile or spec.profile == "dev"
    base = resolve_base(ctx, torch, python, compile_needed)
    archives = resolve_archives(ctx, base.distro)
    if ctx.problems:
        return None
    target = k.targets[spec.target]
    if spec.user == "root":
        ctx.warnings.append(f"{ctx.where('user', 'root')}: the image will run as root; any process that escapes "
                            "the model code owns the container. Prefer the default non-root user")
    slim = spec.slim if spec.slim is not None else spec.profile != "dev"
    env = {**target.env, **({"HF_HUB_OFFLINE": "1"} if serve and serve.model.kind != "mount" else {}),
           **dict(serve.settings if serve else ()),
           **(jit_arch_env(torch, gpu_archs) if spec.runtime_toolchain else {}), **dict(spec.env)}
    toolchain = (*TOOLCHAIN, *addon_needs.build_packages) if spec.runtime_toolchain else ()
    system = sorted({*target.runtime_packages, *target.jit_packages, *modal.system, *addon_needs.runtime_packages,
                     *spec.system_packages, *PROFILE_PACKAGES[spec.profile], *toolchain,
                     *((serve_knowledge().gateway.package,) if serve else ())})
    has_compiler = bool(COMPILERS & set(system))
    if addon_needs.keep_torch_headers and not has_compiler:
        ctx.notes.append("an add-on JIT-compiles ops at run time, but the final image has no compiler: only its "
                         "prebuilt ops work (runtime-toolchain = true keeps the compile toolchain for JIT builds)")
    if spec.runtime_toolchain and not addon_needs.keep_torch_headers:
        ctx.notes.append("runtime-toolchain: no add-on of this spec compiles ops at run time; the toolchain serves "
                         "extensions the job builds itself")
    build_packages = sorted({*addon_needs.build_packages, *package_needs.build_packages,
                             *(("build-essential",) if compile_needed else ()),
                             *(("binutils",) if slim else ()),
                             *(("ca-certificates", "curl") if transformers.editable else ())})
    return Plan(
        spec=spec,
        name=spec.name,
        target=spec.target,
        profile=spec.profile,
        python=python,
        torch=torch,
        transformers=transformers,
        runtime_base=base.runtime,
        builder_base=base.builder,
        distro=base.distro,
        compile=compile_needed,
        gpu_archs=gpu_archs,
        packages=packages,
        addons=addons,
        system_packages=tuple(system),
        build_packages=tuple(build_packages),
        uninstall=target.uninstall,
        env=tuple(sorted(env.items())),
        user=spec.user,
        uid=0 if spec.user == "root" else 1000,
        slim=slim,
        keep_torch_headers=has_compiler,
        bytecode=spec.bytecode,
        files=spec.files,
        entrypoint=spec.entrypoint,
        cmd=serve.command if serve and spec.cmd == ("python",) else spec.cmd,
        imports=tuple(dict.fromkeys((*modal.imports, *target.imports, *addon_needs.imports,
                                     *(serve.imports if serve else ())))),
        tools=tuple(dict.fromkeys((*modal.tools, *addon_needs.tools))),
        libraries=modal.libraries,
        max_jobs=DEFAULT_MAX_JOBS,
        warnings=tuple(ctx.warnings),
        notes=tuple(ctx.notes + base.notes),
        extra_paths=addon_needs.paths,
        system_trim=tuple(p for t in k.trims_for(system, base.distro) for p in t.paths) if slim else (),
        system_setup=tuple(c.run for c in k.configure if c.package in system),
        python_headers=spec.runtime_toolchain or bool(target.jit_packages),
        archives=archives,
        package_data=tuple((p.name, k.package_data[p.name]) for p in packages if p.name in k.package_data),
        uv=(k.uv["version"], k.uv["url"], k.uv["sha256"]),
        installer_env=k.installer_env,
        gaps=tuple(dict.fromkeys(ctx.gaps)),
        serve=serve,
        root_trim=root_trim(serve is not None and slim)[0],
        root_trim_paths=root_trim(serve is not None and slim)[1],
    )
