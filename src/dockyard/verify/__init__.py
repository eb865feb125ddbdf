"""Proof that an image works. `probe.py` runs inside an image (or on a host) with only the standard
library and torch; `run` hands it to an engine and reads its report."""
