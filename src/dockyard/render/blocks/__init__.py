"""Building blocks: pure functions from a plan to Dockerfile instructions, one capability each.

system  -> the shared `base` stage: system packages, the interpreter, the runtime user
python  -> the builder's interpreter and virtualenv
torch   -> torch and its companions from the right wheel index, then pinned against later installs
packages-> pinned PyPI packages and add-ons (compiled ones with bounded jobs and an arch list)
transformers -> transformers itself (release, git ref, or editable source for the dev profile)
finish  -> consistency check, slimming and bytecode, in the builder so dropped files never land in a layer
runtime -> the final stage: copies, environment, labels, non-root user, init and entrypoint
"""
