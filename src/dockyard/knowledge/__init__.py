"""The compatibility knowledge base. In: the TOML tables and presets beside this file. Out: a typed
`Knowledge` (loader), accelerator facts about base images (accelerators) and GPU architecture lists
(archs). Data first: a hardware quirk is a row here, not a branch in code."""
