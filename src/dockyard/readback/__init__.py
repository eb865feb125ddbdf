"""readback: a Dockerfile read back, the render stage run backwards.

One reader (`reader.read`), built on lint's parser and package extraction, turns any Dockerfile into an
`Inventory`: every item of it (base, Python, pip and apt packages, extras, env, build arguments, user,
workdir, shell, labels, entrypoint, command, files copied in, build steps), each marked with whether it
reaches the final image. Two tools read that inventory:

- `tospec`: `dockyard import`, an inventory mapped to a spec through the knowledge base, with a report of
  every item (mapped to which key, or not, and why), checked by resolve and relaxed until it resolves;
- `compare`: fidelity, a preset's rendered Dockerfile read back and compared with the original it
  reproduces (`originals` keeps the originals' inventories), the preset's record explaining each
  difference and nothing else.

    Dockerfile text (+ build-context files) -> Inventory -> spec + report | comparison with a record
"""
