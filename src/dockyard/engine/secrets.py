"""Build secrets: `--secret id=NAME,src=FILE|env=VAR` and `--ca-cert FILE`.

A secret reaches the build only as a BuildKit/Buildah secret mount. A value taken from the environment
is written to a private temporary file (mode 0600) that is removed after the build. Values are kept so
the saved build log can be scrubbed of them; they never appear in messages.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.errors import InputError

SECRET_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Secret:
    id: str
    path: Path  # a file the engine reads
    temporary: bool = False


@dataclass
class SecretSet:
    secrets: list[Secret] = field(default_factory=list)
    values: list[str] = field(default_factory=list)  # for scrubbing logs; never printed
    named: list[tuple[str, str]] = field(default_factory=list)  # (id, value): what verify looks for in the image

    def ids(self) -> list[str]:
        return [s.id for s in self.secrets]

    def cleanup(self) -> None:
        for secret in self.secrets:
            if secret.temporary:
                try:
                    secret.path.unlink()
                    secret.path.parent.rmdir()
                except OSError:
                    pass

    def scrub(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            if len(value) >= 4:
                text = text.replace(value, "***")
        return text


def parse_secret(text: str) -> tuple[str, str, str]:
    """id=NAME,src=FILE | id=NAME,env=VAR -> (id, kind, where)."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise InputError(f"--secret {text!r}: {part!r} is not key=value",
                             "write --secret id=NAME,src=FILE or --secret id=NAME,env=VAR")
        fields[key.strip()] = value.strip()
    unknown = set(fields) - {"id", "src", "source", "env", "type"}
    if unknown or "id" not in fields:
        raise InputError(f"--secret {text!r}: expected id= and src= or env=",
                         "write --secret id=NAME,src=FILE or --secret id=NAME,env=VAR")
    if not SECRET_ID.match(fields["id"]):
        raise InputError(f"--secret {text!r}: id {fields['id']!r} may use letters, digits, '.', '_' and '-'")
    source = fields.get("src") or fields.get("source")
    if source and "env" in fields:
        raise InputError(f"--secret {text!r}: give src= or env=, not both")
    if source:
        return fields["id"], "src", source
    if "env" in fields:
        return fields["id"], "env", fields["env"]
    raise InputError(f"--secret {text!r}: no src= or env=", "write --secret id=NAME,src=FILE or id=NAME,env=VAR")


def _private_file(secret_id: str, value: str) -> Path:
    directory = Path(tempfile.mkdtemp(prefix="dockyard-secret-"))
    path = directory / secret_id
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return path


def collect(secret_args: Sequence[str], ca_cert: str | None, env: Mapping[str, str] | None = None) -> SecretSet:
    env = os.environ if env is None else env
    result = SecretSet()
    seen: set[str] = set()
    try:
        if ca_cert:
            path = Path(ca_cert).expanduser()
            if not path.is_file():
                raise InputError(f"--ca-cert {ca_cert}: no such file",
                                 "give a PEM bundle, e.g. --ca-cert \"$PIP_CERT\"")
            head = path.read_text(encoding="utf-8", errors="replace")
            if "-----BEGIN CERTIFICATE-----" not in head:
                raise InputError(f"--ca-cert {ca_cert}: not a PEM certificate bundle",
                                 "the file must contain -----BEGIN CERTIFICATE----- blocks")
            result.secrets.append(Secret("ca", path))
            seen.add("ca")
        for text in secret_args:
            secret_id, kind, where = parse_secret(text)
            if secret_id in seen:
                raise InputError(f"--secret id={secret_id} given twice",
                                 "--ca-cert already provides the secret 'ca'" if secret_id == "ca" else None)
            seen.add(secret_id)
            if kind == "src":
                path = Path(where).expanduser()
                if not path.is_file():
                    raise InputError(f"--secret id={secret_id}: src file {where} does not exist")
                result.named.append((secret_id, path.read_text(encoding="utf-8", errors="replace").strip()))
                result.secrets.append(Secret(secret_id, path))
            else:
                if where not in env:
                    raise InputError(f"--secret id={secret_id}: environment variable {where} is not set",
                                     f"export {where} first, or use src=FILE")
                result.named.append((secret_id, env[where]))
                result.secrets.append(Secret(secret_id, _private_file(secret_id, env[where]), temporary=True))
    except BaseException:
        result.cleanup()
        raise
    result.named = [(i, v) for i, v in result.named if v]
    result.values = [v for _, v in result.named if "-----BEGIN" not in v]
    return result
