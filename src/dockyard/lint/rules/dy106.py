"""DY106: a secret-looking value passed through ARG or ENV."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel
from dockyard.lint.rules.base import finding
from dockyard.spec.secrets import looks_secret

CODE = "DY106"
NAME = "secret-in-arg-or-env"
SEVERITY = "error"
MESSAGE = "a secret is passed through ARG or ENV"
FIX = (
    "Pass it as a build secret: `docker build --secret id=hf_token,env=HF_TOKEN` and "
    "`RUN --mount=type=secret,id=hf_token,env=HF_TOKEN ...`; give runtime secrets to the container "
    "(`docker run -e HF_TOKEN`), never to the image."
)
DOCS = """\
`ENV` values are stored in the image config and `ARG` values in the build history
(`docker history --no-trunc`, provenance attestations), so a token given either way ships with every
copy of the image. A Hugging Face token in an image grants its read (or write) scope to anyone who
pulls it.

Names that look like secrets: `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`, anything ending in `_TOKEN`,
`_API_KEY`, `_APIKEY`, `_SECRET`, `_SECRET_KEY`, `_ACCESS_KEY`, `_PRIVATE_KEY`, `_PASSWORD`, `_PASSWD`,
plus `WANDB_KEY`, `AWS_ACCESS_KEY_ID`, and any value that embeds credentials in a URL
(`https://user:pass@host/simple`). Unlike generic scanners, the rule knows the ML names that only
look secret: `TOKENIZERS_PARALLELISM`, `TIKTOKEN_*`, `MAX_TOKENS`-style counts, `*_TOKEN_PATH` /
`*_KEY_FILE` style paths, tokenizer special tokens (`BOS_TOKEN`, `PAD_TOKEN`, ...), `GPG_KEY` and
public keys. `ENV HF_TOKEN=""` (clearing it) is fine.

Bad:

```dockerfile
ARG HF_TOKEN
RUN HF_TOKEN=$HF_TOKEN python -c "from huggingface_hub import whoami; whoami()"
```

Good:

```dockerfile
RUN --mount=type=secret,id=hf_token,env=HF_TOKEN python -c "from huggingface_hub import whoami; whoami()"
```
"""

_THIS = sys.modules[__name__]
_URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I)


def check(model: DockerfileModel) -> Iterator[Finding]:
    for inst in model.instructions:
        if inst.cmd not in ("ARG", "ENV"):
            continue
        for name, value in inst.pairs():
            line, col = model.locate(inst, name)
            if looks_secret(name):
                if inst.cmd == "ENV" and not (value or "").strip():
                    continue
                yield finding(
                    _THIS,
                    model,
                    line,
                    col,
                    f"{inst.cmd} {name} puts a secret into the image's "
                    f"{'config' if inst.cmd == 'ENV' else 'build history'}",
                )
            elif value and _URL_CREDENTIALS.search(value):
                yield finding(
                    _THIS,
                    model,
                    line,
                    col,
                    f"{inst.cmd} {name} embeds credentials in a URL, which stay in the image",
                )
