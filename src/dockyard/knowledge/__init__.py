"""The compatibility knowledge base. In: the TOML tables of a knowledge folder (the installed one, or a
site's newer one, `folder`; each file fits `schema`) and the presets beside them. Out: a typed `Knowledge`
(loader), accelerator facts about base images (accelerators) and GPU architecture lists (archs); every
release of the tracked packages as PyPI tells it (releases, pypi) and what the curated tables lack
against it (freshness). Data first: a hardware quirk is a row here, not a branch in code."""
