"""Deploy serve images. In: a Plan of a `profile = "serve"` spec (and the image reference `dockyard
build` gives it). Out: a `Deployment` (model), compose.yaml (compose, every value escaped for compose's
interpolation), Kubernetes manifests (kubernetes, values checked against the API's rules in k8svalues),
files written by render's owned writer (files), who can reach the server (binding), and a local container
that is started, waited on until /health answers, and stopped (local) under one ownership rule for
containers and volumes (ownership). Device facts per target are data: knowledge/deploy.toml."""
