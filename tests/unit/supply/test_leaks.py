"""verify's secret-value probe without an engine (issue 21): what it looks for (the build's secrets, the
environment's token-shaped values), where (every layer, deleted files too, the config, the history), and
that a finding names the secret, never its value."""

from __future__ import annotations

from dockyard.supply.leaks import CHECK, leak_needles, leaks_in_archive, with_leak_check
from dockyard.verify.run import ProbeResult, VerifyReport

from .conftest import FAKE_TOKEN, ArchiveMaker, FakeFile, FakeLayer

GITHUB = "ghp_" + "aB3" * 12
ENVIRON = {"GITHUB_TOKEN": GITHUB, "HF_TOKEN": "short", "PATH": "/usr/bin", "TOKENIZERS_PARALLELISM": "false",
           "NOTES": f"see {FAKE_TOKEN} here", "MY_API_KEY": "long-enough-but-not-shaped"}


def test_what_is_looked_for() -> None:
    needles = leak_needles([("hf_token", FAKE_TOKEN), ("netrc", "machine x login y password swordfish42")], ENVIRON)
    labels = {n.label for n in needles}
    assert labels == {"build secret hf_token", "build secret netrc", "$GITHUB_TOKEN of the build's environment",
                      "$NOTES of the build's environment", "$MY_API_KEY of the build's environment"}
    assert all(n.data != b"short" for n in needles), "a short value under a secret name would match by chance"
    assert leak_needles([], {"PATH": "/usr/bin"}) == ()


def test_found_in_every_layer_config_and_history(make_archive: ArchiveMaker) -> None:
    layers = [FakeLayer([FakeFile("/etc/os-release", b"debian")]),
              FakeLayer([FakeFile("/opt/model/notes.txt", b"HF_TOKEN=" + FAKE_TOKEN.encode())]),
              FakeLayer([FakeFile("/opt/model/.wh.notes.txt")], created_by=f"RUN echo {GITHUB} > /dev/null")]
    config = {"config": {"Env": [f"X={GITHUB}"]}}
    needles = leak_needles([("hf_token", FAKE_TOKEN)], {"GITHUB_TOKEN": GITHUB})
    where = leaks_in_archive(make_archive(layers, config), needles)
    assert where == ["build secret hf_token in layer 1 /opt/model/notes.txt",
                     "$GITHUB_TOKEN of the build's environment in the image config",
                     "$GITHUB_TOKEN of the build's environment in history step 3"]
    assert FAKE_TOKEN not in str(where) and GITHUB not in str(where)


def test_nothing_found_in_a_clean_image(make_archive: ArchiveMaker) -> None:
    archive = make_archive([FakeLayer([FakeFile("/app/x.py", b"print(1)")])])
    assert leaks_in_archive(archive, leak_needles([("hf_token", FAKE_TOKEN)], {})) == []


def test_the_result_is_one_more_row_of_verify() -> None:
    report = VerifyReport("img", (ProbeResult("python", True, "3.11", "3.11", ""),), True, False)
    assert with_leak_check(report, None) is report
    failed = with_leak_check(report, ProbeResult(CHECK, False, [], ["build secret x in layer 1 /a"], "not shown"))
    assert not failed.ok and [r.name for r in failed.failures()] == [CHECK]
