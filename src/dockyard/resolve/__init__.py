"""ImageSpec x Knowledge -> Plan. `resolver.resolve` picks every open choice (torch release and
variant, Python, transformers, add-ons, modalities, packages, base image) or refuses with the fact,
its source and the nearest valid choice. `plan` holds the Plan it returns."""
