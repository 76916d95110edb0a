"""Root filesystems assembled from real Debian packages, for building fixture images.

Each ``*_base(dest)`` function downloads the packages with ``apt-get download`` (the ``.deb``
files are cached across runs in ``<repo>/.cache/debs``), unpacks them with ``dpkg-deb -x``
into ``dest`` and returns ``dest``. The session fixtures (``base_glibc``, ...) build each root
once per session under pytest's temp dir: treat them as read-only and copy
(``shutil.copytree(root, ..., symlinks=True)``) before changing anything. Every base has
``/etc/passwd`` and ``/etc/group`` with ``root`` (0) and ``nobody`` (65534).

``base_glibc`` -- glibc 2.36 (Debian 12: libc6, libgcc-s1, libstdc++6), not merged-/usr::

    /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
    /lib/x86_64-linux-gnu/{ld-linux-x86-64.so.2,libc.so.6,libm.so.6,libgcc_s.so.1,...}
    /usr/lib/x86_64-linux-gnu/libstdc++.so.6 -> libstdc++.so.6.0.30
    /etc/ld.so.conf (include /etc/ld.so.conf.d/*.conf), /etc/ld.so.conf.d/x86_64-linux-gnu.conf
    /etc/ld.so.cache                 written by the host's ``ldconfig -r ROOT``

``base_glibc_shell`` -- ``base_glibc`` plus dash, bash, coreutils and their libraries
(libtinfo6, libacl1, libattr1, libselinux1, libpcre2-8-0, libgmp10), cache regenerated::

    /bin/sh -> dash, /bin/dash, /bin/bash, /usr/bin/env, /bin/ls, ...

``base_musl`` -- Alpine-like musl 1.2.3 (Debian's ``musl``, rearranged) + busybox-static::

    /lib/ld-musl-x86_64.so.1          the musl loader and libc (a regular file)
    /lib/libc.musl-x86_64.so.1 -> ld-musl-x86_64.so.1
    /bin/busybox, /bin/sh -> busybox, /usr/bin/env -> ../../bin/busybox, ... (every applet)
    no /etc/ld-musl-x86_64.path (musl's default path /lib:/usr/local/lib:/usr/lib applies)

``base_static`` -- like distroless static: only ``/etc/passwd``, ``/etc/group``,
``/etc/nsswitch.conf`` and an empty ``/tmp``; no loader, no libc, no shell.

``base_arm64_glibc`` -- glibc 2.36 for arm64 from ``libc6-arm64-cross``/``libgcc-s1-arm64-cross``
(``/usr/aarch64-linux-gnu/lib`` moved to the native places)::

    /lib/ld-linux-aarch64.so.1 -> aarch64-linux-gnu/ld-linux-aarch64.so.1
    /lib/aarch64-linux-gnu/{ld-linux-aarch64.so.1,libc.so.6,libgcc_s.so.1,...}
    /etc/ld.so.conf.d/aarch64-linux-gnu.conf; no /etc/ld.so.cache (the host's x86-64 ldconfig
    does not index aarch64 libraries; ld.so then uses its default dirs)

``base_glibc_multilib`` -- ``base_glibc`` plus the i386 and x32 glibc (libc6-i386, libc6-x32),
so one real ``/etc/ld.so.cache`` holds the same sonames for three ABIs (flags 0x0303 x86-64,
0x0003 i386, 0x0803 x32)::

    /lib32/ld-linux.so.2, /lib32/libc.so.6, /libx32/ld-linux-x32.so.2, /libx32/libc.so.6
    /etc/ld.so.conf.d/zz_i386-biarch-compat.conf, zz_x32-biarch-compat.conf

``base_stale_ldcache`` -- ``base_glibc`` plus a library the cache does not know::

    /etc/ld.so.conf.d/app.conf        "/opt/app/lib"
    /opt/app/lib/libfoo.so.1          (the fixture libfoo) copied in AFTER ldconfig ran, so
                                      /etc/ld.so.cache has no libfoo.so.1: a program needing
                                      it fails until ``ldconfig`` is run again
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.binaries import Binaries

__all__ = [
    "arm64_glibc_base",
    "base_arm64_glibc",
    "base_glibc",
    "base_glibc_multilib",
    "base_glibc_shell",
    "base_musl",
    "base_stale_ldcache",
    "base_static",
    "download_debs",
    "glibc_base",
    "glibc_multilib_base",
    "glibc_shell_base",
    "musl_base",
    "run_ldconfig",
    "stale_ldcache_base",
    "static_base",
]

REPO = Path(__file__).resolve().parents[2]
DEB_CACHE = REPO / ".cache" / "debs"

GLIBC_PACKAGES = ("libc6", "libgcc-s1", "libstdc++6")
SHELL_PACKAGES = (
    "dash",
    "bash",
    "coreutils",
    "libtinfo6",
    "libacl1",
    "libattr1",
    "libselinux1",
    "libpcre2-8-0",
    "libgmp10",
)
MULTILIB_PACKAGES = ("libc6-i386", "libc6-x32")
ARM64_PACKAGES = ("libc6-arm64-cross", "libgcc-s1-arm64-cross")

_PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
)
_GROUP = "root:x:0:\nnobody:x:65534:\n"


def _cached_deb(package: str) -> Path | None:
    found = sorted(DEB_CACHE.glob(f"{package}_*.deb"))
    return found[-1] if found else None


def download_debs(packages: tuple[str, ...]) -> list[Path]:
    """The ``.deb`` of each package, downloaded once into ``<repo>/.cache/debs``."""
    DEB_CACHE.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if _cached_deb(p) is None]
    if missing:
        with tempfile.TemporaryDirectory(dir=DEB_CACHE) as tmp:
            subprocess.run(
                ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *missing],
                cwd=tmp,
                check=True,
                capture_output=True,
            )
            for fetched in Path(tmp).glob("*.deb"):
                # Package names cannot contain "_", so "<name>_" finds its file.
                os.replace(fetched, DEB_CACHE / fetched.name)
    debs = []
    for package in packages:
        deb = _cached_deb(package)
        if deb is None:
            raise RuntimeError(f"apt-get download {package} produced no .deb")
        debs.append(deb)
    return debs


def _extract(packages: tuple[str, ...], root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for deb in download_debs(packages):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)


def _write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def _etc(root: Path) -> None:
    _write(root, "/etc/passwd", _PASSWD)
    _write(root, "/etc/group", _GROUP)


def run_ldconfig(root: Path) -> None:
    """Write ``ROOT/etc/ld.so.cache`` with the host's ldconfig (reads ``ROOT/etc/ld.so.conf``)."""
    subprocess.run(["ldconfig", "-r", str(root)], check=True, capture_output=True)


def glibc_base(dest: Path) -> Path:
    _extract(GLIBC_PACKAGES, dest)
    _etc(dest)
    # /etc/ld.so.conf belongs to libc-bin, which we do not install.
    _write(dest, "/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n")
    run_ldconfig(dest)
    return dest


def glibc_shell_base(dest: Path) -> Path:
    glibc_base(dest)
    _extract(SHELL_PACKAGES, dest)
    run_ldconfig(dest)
    return dest


def glibc_multilib_base(dest: Path) -> Path:
    glibc_base(dest)
    _extract(MULTILIB_PACKAGES, dest)
    run_ldconfig(dest)
    return dest


def musl_base(dest: Path) -> Path:
    _extract(("musl", "busybox-static"), dest)
    lib = dest / "lib"
    # Alpine layout: the loader is the libc, and libc.musl-<arch>.so.1 links to it.
    (lib / "ld-musl-x86_64.so.1").unlink()
    os.replace(lib / "x86_64-linux-musl" / "libc.so", lib / "ld-musl-x86_64.so.1")
    (lib / "libc.musl-x86_64.so.1").symlink_to("ld-musl-x86_64.so.1")
    shutil.rmtree(lib / "x86_64-linux-musl")
    shutil.rmtree(dest / "etc" / "ld-musl-x86_64.d", ignore_errors=True)
    (dest / "etc" / "ld-musl-x86_64.path").unlink(missing_ok=True)
    (dest / "usr" / "bin" / "ld-musl-config").unlink(missing_ok=True)
    _busybox_applets(dest)
    _etc(dest)
    return dest


def _busybox_applets(root: Path) -> None:
    busybox = root / "bin" / "busybox"
    listing = subprocess.run(
        [str(busybox), "--list-full"], check=True, capture_output=True, text=True
    ).stdout
    for applet in listing.split():
        link = root / applet
        if link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(busybox, link.parent))


def static_base(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    _etc(dest)
    _write(dest, "/etc/nsswitch.conf", "hosts: files dns\n")
    (dest / "tmp").mkdir(exist_ok=True)
    (dest / "tmp").chmod(0o1777)
    return dest


def arm64_glibc_base(dest: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        _extract(ARM64_PACKAGES, Path(tmp))
        libdir = dest / "lib" / "aarch64-linux-gnu"
        libdir.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(Path(tmp) / "usr" / "aarch64-linux-gnu" / "lib", libdir, symlinks=True)
    (dest / "lib" / "ld-linux-aarch64.so.1").symlink_to("aarch64-linux-gnu/ld-linux-aarch64.so.1")
    _write(
        dest,
        "/etc/ld.so.conf.d/aarch64-linux-gnu.conf",
        "/lib/aarch64-linux-gnu\n/usr/lib/aarch64-linux-gnu\n",
    )
    _write(dest, "/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n")
    _etc(dest)
    return dest


def stale_ldcache_base(dest: Path, libfoo: Path) -> Path:
    glibc_base(dest)
    _write(dest, "/etc/ld.so.conf.d/app.conf", "/opt/app/lib\n")
    (dest / "opt" / "app" / "lib").mkdir(parents=True)
    run_ldconfig(dest)  # the cache is written before the library arrives ...
    shutil.copy2(libfoo, dest / "opt" / "app" / "lib" / "libfoo.so.1")  # ... and goes stale
    return dest


@pytest.fixture(scope="session")
def base_glibc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return glibc_base(tmp_path_factory.mktemp("base-glibc"))


@pytest.fixture(scope="session")
def base_glibc_shell(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return glibc_shell_base(tmp_path_factory.mktemp("base-glibc-shell"))


@pytest.fixture(scope="session")
def base_glibc_multilib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return glibc_multilib_base(tmp_path_factory.mktemp("base-glibc-multilib"))


@pytest.fixture(scope="session")
def base_musl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return musl_base(tmp_path_factory.mktemp("base-musl"))


@pytest.fixture(scope="session")
def base_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return static_base(tmp_path_factory.mktemp("base-static"))


@pytest.fixture(scope="session")
def base_arm64_glibc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return arm64_glibc_base(tmp_path_factory.mktemp("base-arm64-glibc"))


@pytest.fixture(scope="session")
def base_stale_ldcache(
    tmp_path_factory: pytest.TempPathFactory, fixture_binaries: Binaries
) -> Path:
    return stale_ldcache_base(
        tmp_path_factory.mktemp("base-stale-ldcache"), fixture_binaries.path("libfoo.so.1")
    )
