"""ImageSpec x Knowledge -> Plan: a search over the choices the user left open, one module per decision.

In: a validated ImageSpec and the knowledge base. Out: a Plan (plan.py), or ResolveError naming every
problem of the preferred combination and the smallest set of the user's keys that conflict.

    resolver.py   the entry point `resolve(spec, knowledge) -> Plan`, and `known_variants`
    search.py     tries the open choices newest first; notes when the preferred one was passed over
    attempt.py    one combination (torch, variant, Python) -> the rest of the decisions and the Plan
    conflict.py   the smallest conflicting set of the user's keys, and what would make it work
    context.py    what every step shares: spec, knowledge, problems, warnings, notes, knowledge gaps
    torch.py      torch release and wheel variant candidates, pruned by what they alone decide
    refusal.py    why no torch release fits, with the nearest valid choices
    python.py     Python candidates          transformers.py  transformers release (yanked ones refused)
    archs.py      GPU archs                   addons.py        add-ons
    packages.py   modalities and packages     base.py          base images (missing rows are gaps)
    coverage.py   the coverage matrix (docs/coverage.md): target x profile x add-on, and each modality
"""
