"""Deploy serve images. In: a Plan of a `profile = "serve"` spec (and the image reference `dockyard
build` gives it, or the digest `dockyard push` recorded). Out: a `Deployment` (model), compose.yaml
(compose, every value escaped for compose's interpolation), Kubernetes manifests (kubernetes, with the
pod of pod and KEDA's ScaledObject of keda; values checked against the API's rules in k8svalues), a KServe
InferenceService (kserve), pods sized from the model (weights, resources), images pushed and named by
digest (registry), the fetch step of a model fetched at start (fetch), files written by render's owned
writer (files), who can reach the server (binding), and a local container that is started, waited on
until /health answers, and stopped (local) under one ownership rule for containers and volumes
(ownership). Device and policy facts are data: knowledge/deploy.toml."""
