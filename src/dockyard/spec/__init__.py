"""What a user may ask for. In: a TOML spec file, a preset name or a table. Out: a validated
`ImageSpec` (model) whose keys the `FIELDS` table and the JSON Schema describe (fields), the `[serve]`
table (serve), parsed version and add-on requests (requests), grammars of values that reach a shell or
the builder's disk (references, grammar), and the secret rules that spec validation, lint and audit
share (secrets). Imports only `errors` and the knowledge base (presets live there)."""
