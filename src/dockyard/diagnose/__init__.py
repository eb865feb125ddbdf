"""What went wrong, and what this host can do. `doctor` gathers host facts (host, facts, gpu), runs
checks on them (checks, gpu) and answers what the GPUs can run (capability); `explain` matches a failed
build's log against known failures (signatures, extract). `data` derives the GPU tables both use from
the knowledge base."""
