"""Find the real binaries tests need; skip locally, fail in CI when one is missing."""

from __future__ import annotations

import glob
import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(name: str, *extra_dirs: str) -> str:
    """Path to binary `name`; pytest.skip (or pytest.fail under CI=true) when it is absent."""
    path = shutil.which(name)
    if path is None:
        for pattern in extra_dirs:
            for directory in sorted(glob.glob(pattern), reverse=True):
                candidate = os.path.join(directory, name)
                if os.access(candidate, os.X_OK):
                    path = candidate
                    break
            if path:
                break
    if path is None:
        message = f"需要 {name}，但在本机未找到（make test 会安装它）"
        if in_ci():
            pytest.fail(message + " — CI=true 时缺少依赖视为失败", pytrace=False)
        pytest.skip(message)
    return path
