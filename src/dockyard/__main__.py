"""`python -m dockyard`: the command line, for environments where the `dockyard` script is not on PATH."""

from dockyard.cli import entrypoint

entrypoint()
