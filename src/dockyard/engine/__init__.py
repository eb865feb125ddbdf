"""Drive a real container engine. In: a rendered Dockerfile and its files. Out: an image and a report.
`detect` finds docker (buildx or DOCKER_BUILDKIT) or podman and their features; `context` prepares the
build context; `backends` runs builds; `progress` and `report` show them; `siteconfig`, `maps`, `secrets`
and `bootstrap` hold the site config, site settings, build secrets and the local base image."""
