"""Debian packages by bytes on disk and the chain that pulled each in, from dpkg's own records in a
synthetic saved image (what `dockyard audit` and bench/size.py report)."""

from __future__ import annotations

from dockyard.supply.audit import audit_archive
from dockyard.supply.debian import apt_sizes, chains, parse_status

from .conftest import ArchiveMaker, FakeFile, FakeLayer

STATUS = """Package: ffmpeg
Status: install ok installed
Version: 7:5.1.8-0+deb12u1
Depends: libavdevice59 (= 7:5.1.8-0+deb12u1), libc6 (>= 2.34)

Package: libavdevice59
Status: install ok installed
Version: 7:5.1.8-0+deb12u1
Depends: libgl1,
 libc6:any (>= 2.34)

Package: libgl1
Status: install ok installed
Version: 1.6.0-1
Depends: libglx0 | libglx-vendor

Package: libglx-mesa0
Status: install ok installed
Version: 22.3.6-1+deb12u1
Provides: libglx-vendor
Depends: libllvm15

Package: libllvm15
Status: install ok installed
Version: 1:15.0.6-4+b1
Pre-Depends: libc6

Package: libc6
Status: install ok installed
Version: 2.36-9+deb12u10
Essential: yes

Package: gone
Status: deinstall ok config-files
Version: 1.0
"""


def test_parse_status_reads_installed_packages_with_continuation_lines() -> None:
    packages = parse_status(STATUS)
    assert sorted(packages) == ["ffmpeg", "libavdevice59", "libc6", "libgl1", "libglx-mesa0", "libllvm15"]
    assert packages["libavdevice59"].depends == (("libgl1",), ("libc6",))
    assert packages["libgl1"].depends == (("libglx0", "libglx-vendor"),)
    assert packages["libglx-mesa0"].provides == ("libglx-vendor",)
    assert packages["libllvm15"].depends == (("libc6",),), "Pre-Depends count"
    assert packages["libc6"].essential


def test_chains_follow_alternatives_and_virtual_packages_from_a_root() -> None:
    found = chains(parse_status(STATUS))
    assert found["libllvm15"] == ("ffmpeg", "libavdevice59", "libgl1", "libglx-mesa0", "libllvm15")
    assert found["ffmpeg"] == ("ffmpeg",)
    assert found["libc6"] == ("ffmpeg", "libc6"), "the shortest chain"


def dpkg_layer(extra: list[FakeFile]) -> FakeLayer:
    lists = {
        "ffmpeg": ["/.", "/usr/bin/ffmpeg", "/usr/share/doc/ffmpeg/changelog.gz"],
        "libllvm15": ["/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1"],
        "libgl1": ["/usr/lib/x86_64-linux-gnu/libGL.so.1.7.0"],
        "libc6": ["/lib/x86_64-linux-gnu/libc.so.6"],
    }
    files = [FakeFile("/var/lib/dpkg/status", STATUS.encode())]
    for name, paths in lists.items():  # dpkg names multi-arch packages' lists name:arch.list
        listed = f"/var/lib/dpkg/info/{name}.list" if name == "ffmpeg" else f"/var/lib/dpkg/info/{name}:amd64.list"
        files.append(FakeFile(listed, ("\n".join(paths) + "\n").encode()))
    return FakeLayer(files + extra, "/bin/sh -c apt-get install -y ffmpeg")


def test_sizes_are_the_files_on_disk_in_the_merged_file_system(make_archive: ArchiveMaker) -> None:
    archive = make_archive([dpkg_layer([
        FakeFile("/usr/bin/ffmpeg", b"f" * 300),
        FakeFile("/usr/lib/x86_64-linux-gnu/libGL.so.1.7.0", b"g" * 200),
        FakeFile("/usr/lib/x86_64-linux-gnu/libc.so.6", b"c" * 100),  # dpkg lists /lib: merged /usr
        # libLLVM-15.so.1 left out by dpkg (path-exclude): listed, not on disk, counts nothing
    ])])
    report = audit_archive(archive, "test/image")
    by_name = {row.name: row for row in report.apt}
    assert by_name["ffmpeg"].size == 300 and by_name["ffmpeg"].pulled_by == ()
    assert by_name["libgl1"].size == 200 and by_name["libgl1"].pulled_by == ("ffmpeg", "libavdevice59")
    assert by_name["libc6"].size == 100
    assert by_name["libllvm15"].size == 0
    assert [row.name for row in report.apt][:3] == ["ffmpeg", "libgl1", "libc6"]
    assert report.to_json()["apt"][0] == {"name": "ffmpeg", "version": "7:5.1.8-0+deb12u1", "size": 300,
                                          "pulled_by": []}


def test_an_image_without_dpkg_has_no_debian_rows(make_archive: ArchiveMaker) -> None:
    archive = make_archive([FakeLayer([FakeFile("/usr/bin/busybox", b"b" * 10, 0o755)])])
    assert audit_archive(archive, "test/image").apt == []
    assert apt_sizes([], {}) == []
