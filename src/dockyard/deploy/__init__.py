"""Deploy serve images. In: a Plan of a `profile = "serve"` spec (and the image reference `dockyard
build` gives it, or the digest `dockyard push` recorded). Out: a `Deployment` (model), compose.yaml
(compose), Kubernetes manifests (kubernetes, with the pod of pod, KEDA's ScaledObject of keda), a KServe
InferenceService (kserve), pods sized from the model (weights, resources), images pushed and named by
digest (registry), the fetch step of a model fetched at start (fetch), files written without overwriting
anyone else's (files), and a local container that is started, waited on until /health answers, and
stopped (local). Device and policy facts are data: knowledge/deploy.toml."""
