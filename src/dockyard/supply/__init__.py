"""Supply chain: what went into an image and what it contains.

lockfile -> the lock file format (requirements-compatible, a commented header) and its parts per step
lock     -> `dockyard lock`: every Python package to an exact version with hashes, resolved by uv
archive  -> read an image as the engine saves it (layers, config, history) without running it
audit    -> `dockyard audit`: user, sizes by layer and directory, compilers, setuid files, entrypoint
scan     -> secrets in layer files, the config and the history (token formats, private keys, given values)
diff     -> `dockyard diff`: packages and sizes between two locks or two images
sbom     -> a CycloneDX SBOM of an image's Python environment (cyclonedx-bom)
"""
