"""Scale out: hand many images to the engines and services that already scale.

- matrix: many images on one engine, bounded by the host's memory and cores, with a resumable state file
- bake: a docker-bake.hcl for BuildKit (local, remote or Kubernetes builders)
- workflow: a GitHub Actions workflow that builds, verifies with dockyard's probes, then pushes
- apptainer: an Apptainer/Singularity definition for HPC sites

Generators are pure functions of plans and give deterministic text; only `matrix` drives an engine.
"""
