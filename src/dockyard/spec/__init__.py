"""What a user may ask for. In: a TOML spec file, a preset name or a table. Out: a validated
`ImageSpec` (model), parsed version and add-on requests (requests), and the secret-name rules that
spec validation, lint and audit share (secrets). Imports nothing else of dockyard but `errors`."""
