"""Deploy serve images. In: a Plan of a `profile = "serve"` spec (and the image reference `dockyard
build` gives it). Out: a `Deployment` (model), compose.yaml (compose), Kubernetes manifests
(kubernetes), files written without overwriting anyone else's (files), and a local container that is
started, waited on until /health answers, and stopped (local). Device facts per target are data:
knowledge/deploy.toml."""
