"""Proof that an image works. `probe.py` runs inside an image (or on a host) with only the standard
library and torch; `run` hands it to an engine and reads its report; `host` runs it in a Python
environment (`dockyard verify --host`) and judges the GPU driver against the knowledge base. (What a preset
keeps of the image it reproduces is computed by readback/compare.py.)"""
