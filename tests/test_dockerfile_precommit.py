"""The pre-commit hook end to end, with the real ``pre-commit try-repo``.

pre-commit clones the hook repository and pip-installs it (with its PyPI dependencies) into an
environment under PRE_COMMIT_HOME, which points into tmp_path so nothing is written elsewhere.
We clone this repository's HEAD first, so the test sees committed state only, as a user would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "dockerfiles"
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("precommit")
    hook_repo = base / "linkcheck"
    _git(base, "clone", "--quiet", str(ROOT), str(hook_repo))
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(base / "home"),
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    }  # fmt: skip
    return hook_repo, env


def _project(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    _git(path, "init", "--quiet")
    for name, fixture in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if fixture.endswith(".Dockerfile"):
            shutil.copy(FIXTURES / fixture, target)
        else:
            target.write_text(fixture)
    _git(path, "add", ".")
    return path


def _try_repo(
    project: Path, hook_env: tuple[Path, dict[str, str]]
) -> subprocess.CompletedProcess[str]:
    hook_repo, env = hook_env
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(hook_repo), "linkcheck-dockerfile", "--all-files"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_hook_fails_on_bad_dockerfiles_and_matches_the_right_names(
    tmp_path: Path, hook_env: tuple[Path, dict[str, str]]
) -> None:
    project = _project(
        tmp_path / "project",
        {
            "Dockerfile": "go-cgo1-explicit-static.Dockerfile",
            "services/api.Dockerfile": "go-export-cgo0.Dockerfile",
            "Containerfile.dev": "c-gcc-dynamic-scratch.Dockerfile",
            "deploy/Dockerfile.prod": "go-glibc-on-alpine.Dockerfile",
            # not Dockerfiles: an unparsable one here would make the hook exit 3
            "Dockerfile.dockerignore": "**/target\n",
            "README.md": "# project\n",
            "docs/Dockerfiles.txt": "FROM nothing\n",
        },
    )
    proc = _try_repo(project, hook_env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "linkcheck dockerfile" in out and "Failed" in out
    assert "Dockerfile:8: error dynamic-binary-on-static-base:" in out
    assert "Containerfile.dev:7: error dynamic-binary-on-static-base:" in out
    assert "deploy/Dockerfile.prod:8: error glibc-binary-on-musl-base:" in out
    assert "api.Dockerfile" not in out and "README" not in out and "error:" not in out


def test_hook_passes_on_clean_dockerfiles(
    tmp_path: Path, hook_env: tuple[Path, dict[str, str]]
) -> None:
    project = _project(
        tmp_path / "clean",
        {
            "Dockerfile": "go-alpine-builder-scratch.Dockerfile",
            "rust/Containerfile": "rust-musl-target-scratch.Dockerfile",
        },
    )
    proc = _try_repo(project, hook_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout
