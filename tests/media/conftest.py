"""Fixtures for the media tests: real ffmpeg, sources generated from lavfi, no binary fixtures."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.binaries import require


@pytest.fixture(scope="session")
def require_ffmpeg() -> None:
    """Skip without ffmpeg/ffprobe, except under CI=true where their absence fails the run."""
    require("ffmpeg")
    require("ffprobe")


def generate(
    path: Path,
    *,
    width: int = 320,
    height: int = 180,
    seconds: float = 2.0,
    fps: float = 25,
    audio: bool = True,
    video: bool = True,
    vcodec: str = "libx264",
    acodec: str = "aac",
    pix_fmt: str = "yuv420p",
    crf: int = 30,
    channels: int = 1,
    rotate: int | None = None,
    extra: tuple[str, ...] = (),
) -> Path:
    """Write a testsrc2 (+ 440 Hz sine) clip to ``path``; the container follows the suffix."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    if video:
        even_w, even_h = width + width % 2, height + height % 2
        cmd += ["-f", "lavfi", "-i", f"testsrc2=size={even_w}x{even_h}:rate={fps}:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    if video:
        cmd += ["-vf", f"scale={width}:{height},setsar=1", "-c:v", vcodec, "-pix_fmt", pix_fmt]
        if vcodec == "libx264":
            cmd += ["-preset", "ultrafast", "-crf", str(crf)]
    if audio:
        cmd += ["-c:a", acodec, "-ac", str(channels)]
    target = path if rotate is None else path.with_name("unrotated-" + path.name)
    subprocess.run([*cmd, *extra, str(target)], check=True, timeout=120)
    if rotate is not None:
        subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(target),
                "-c",
                "copy",
                "-metadata:s:v:0",
                f"rotate={rotate}",
                str(path),
            ],
            check=True,
            timeout=60,
        )
        target.unlink()
    return path


@pytest.fixture
def make_video(tmp_path: Path, require_ffmpeg: None) -> Callable[..., Path]:
    """``make_video("a.mp4", width=..., height=..., seconds=..., audio=False, ...) -> Path``."""
    sources = tmp_path / "sources"
    sources.mkdir(exist_ok=True)

    def make(name: str, **options) -> Path:
        return generate(sources / name, **options)

    return make


def ffprobe(path: Path) -> dict:
    """Streams and format of an output file, as ffprobe sees it."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def streams(path: Path, kind: str) -> list[dict]:
    return [s for s in ffprobe(path)["streams"] if s["codec_type"] == kind]


def leftovers(parent: Path) -> list[str]:
    """Hidden temp/old folders the transcoder must never leave behind."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.fixture
def api(client, auth, create_user):
    """The media upload/status API, as a logged-in admin (see media_helpers.MediaApi)."""
    from tests.media.media_helpers import login_admin

    return login_admin(client, auth, create_user)
