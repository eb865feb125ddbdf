"""DY115: models or datasets downloaded into a layer at build time."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from dockyard.lint.analysis import run_instructions
from dockyard.lint.finding import Finding
from dockyard.lint.model import DockerfileModel, expand
from dockyard.lint.rules.base import finding

CODE = "DY115"
NAME = "model-download-at-build"
SEVERITY = "info"
MESSAGE = "model or dataset files are downloaded into an image layer at build time"
FIX = (
    "Mount the Hugging Face cache at run time (`-v hf-cache:/root/.cache/huggingface`) or download in "
    "the entrypoint; if weights must be in the image, pin `--revision <commit>` and download in a separate "
    "stage or layer placed after the code layers."
)
DOCS = """\
Downloading weights or data sets during the build (`hf download`, `snapshot_download`,
`from_pretrained`, `load_dataset`, `git clone https://huggingface.co/...`, `nltk.download`,
`spacy download`, a `curl` of a `/resolve/` URL) bakes GBs into a layer, ties the image to a model
revision that is usually not pinned (`main`), makes rebuilds slow and the image non-reproducible, and
may need a token at build time. Sometimes it is what you want (air-gapped serving); this is an info
finding so that it is a decision, not an accident.

Bad:

```dockerfile
RUN python -c "from transformers import AutoModel; AutoModel.from_pretrained('bert-base-uncased')"
```

Good:

```dockerfile
# at run time: docker run -v hf-cache:/root/.cache/huggingface -e HF_HOME=/root/.cache/huggingface image
ENV HF_HOME=/root/.cache/huggingface
```
"""

_THIS = sys.modules[__name__]
_PATTERNS = (
    re.compile(r"\b(?:huggingface-cli|hf)\s+download\b"),
    re.compile(r"\b(?:snapshot_download|hf_hub_download)\s*\("),
    re.compile(r"\.from_pretrained\s*\("),
    re.compile(r"\bload_dataset\s*\("),
    re.compile(r"\bSentenceTransformer\s*\("),
    re.compile(r"\bpipeline\s*\(\s*['\"]"),
    re.compile(r"\bgit\s+(?:-C\s+\S+\s+)?(?:clone|lfs\s+pull)\b[^\n]*huggingface\.co"),
    re.compile(r"\b(?:curl|wget)\b[^\n|;&]*(?:huggingface\.co|hf\.co)/[^\s]*/resolve/"),
    re.compile(r"\bnltk\.download\s*\(|-m\s+nltk\.downloader\b"),
    re.compile(r"-m\s+spacy\s+download\b|\bspacy\s+download\b"),
    re.compile(r"-m\s+unidic\s+download\b"),
    re.compile(r"\btorch\.hub\.load\s*\("),
)


def check(model: DockerfileModel) -> Iterator[Finding]:
    for inst in run_instructions(model):
        text = inst.text
        for pattern in _PATTERNS:
            match = pattern.search(text)
            if match:
                line, col = model.locate(inst, match.group(0).split("(")[0].strip()[:30])
                yield finding(
                    _THIS,
                    model,
                    line,
                    col,
                    f"`{match.group(0).strip()}` downloads model or data files into the layer at build time",
                )
                break
    for inst in model.instructions:
        if inst.keyword == "ADD":
            env = model.env_before(inst)
            for source in inst.value[:-1]:
                url = expand(source, env)
                if re.search(r"https?://(?:huggingface\.co|hf\.co)/", url):
                    yield finding(_THIS, model, inst.start_line, 1, f"ADD {url} downloads model files at build time")
