"""`python -m dockyard.cli`: the command line where the `dockyard` script is not on PATH."""

from dockyard.cli import entrypoint

entrypoint()
