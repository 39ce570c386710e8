"""Demo media for `seed-demo`: short generated lessons that really play, made with ffmpeg.

Generated (lavfi test pattern + tone) rather than shipped, so the repository holds no
binary files; transcoded in the foreground through the worker's own code path.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import select

from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from media import library
from media.models import MediaAsset
from media.tasks import run_job

DEMO_MEDIA = [
    # (title, file name, ffmpeg input arguments)
    (
        "示例课件：新时代党员学习（演示视频）",
        "demo-lesson.mp4",
        [
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=854x480:rate=25:duration=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=30",
        ],
    ),
    (
        "示例讲座：支部工作方法（演示音频）",
        "demo-lecture.m4a",
        ["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000:duration=20"],
    ),
    (
        "示例课件：党史故事（演示视频）",
        "demo-history.mp4",
        [
            "-f",
            "lavfi",
            "-i",
            "smptebars=size=640x360:rate=25:duration=15",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=523:sample_rate=48000:duration=15",
        ],
    ),
    (
        "示例课件：政策解读（演示视频）",
        "demo-policy.mp4",
        [
            "-f",
            "lavfi",
            "-i",
            "rgbtestsrc=size=640x360:rate=25:duration=12",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=392:sample_rate=48000:duration=12",
        ],
    ),
    (
        "示例课件：支部实务演练（演示视频）",
        "demo-practice.mp4",
        [
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x360:rate=25:duration=18",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=262:sample_rate=48000:duration=18",
        ],
    ),
]


def seed_demo_media() -> list[str]:
    """Create the demo assets that are missing; returns lines to print."""
    if shutil.which("ffmpeg") is None:
        return ["（未安装 ffmpeg，跳过演示视频；安装后重新运行 seed-demo 即可）"]
    lines = []
    with tempfile.TemporaryDirectory(prefix="dangxiao-demo-") as tmp:
        for title, name, inputs in DEMO_MEDIA:
            existing = db.session.scalar(select(MediaAsset).where(MediaAsset.title == title))
            if existing is not None:
                lines.append(f"  演示媒体已存在：{title}（{existing.status.label}）")
                continue
            source = Path(tmp) / name
            subprocess.run(
                [
                    "ffmpeg",
                    "-v",
                    "error",
                    "-nostdin",
                    "-y",
                    *inputs,
                    "-shortest",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-c:a",
                    "aac",
                    str(source),
                ],
                check=True,
                timeout=300,
            )
            with atomic():
                imported = library.import_file(SYSTEM, source, title, enqueue=False)
            run_job(imported.asset.job.id)
            asset = library.get_asset(imported.asset.id)
            lines.append(f"  演示媒体：{title}（{asset.status.label}，编号 {asset.id}）")
    return lines
