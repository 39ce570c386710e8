"""`flask media transcode` and `flask media import-dir`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from dangxiao.extensions import db
from media.models import AssetStatus, JobStatus, MediaAsset, TranscodeJob
from tests.media.media_helpers import media_root, write_text_as_mp4


def test_transcode_prints_the_asset_id_and_output_folder(app, runner, make_video):
    source = make_video("第一课.mp4", seconds=2)
    result = runner.invoke(args=["media", "transcode", str(source), "--title", "第一课 党章学习"])
    assert result.exit_code == 0, result.output
    asset_id = int(re.search(r"资源编号：(\d+)", result.output).group(1))
    folder = Path(re.search(r"输出目录：(.+)", result.output).group(1).strip())
    assert (folder / "master.m3u8").is_file() and (folder / "video.mp4").is_file()
    assert folder.parent == media_root(app) / "assets" / str(asset_id)
    with app.app_context():
        asset = db.session.get(MediaAsset, asset_id)
        assert asset.title == "第一课 党章学习" and asset.status == AssetStatus.ready
        assert asset.job.status == JobStatus.done
        # Foreground run: nothing was left in the queue for a worker to pick up again.
        assert app.extensions["huey"].pending_count() == 0
    assert source.exists()  # the original stays where it was


def test_transcode_of_a_bad_file_exits_with_the_reason(app, runner, tmp_path):
    result = runner.invoke(args=["media", "transcode", str(write_text_as_mp4(tmp_path / "notes.mp4"))])
    assert result.exit_code == 1
    assert "转码失败" in result.output and "不是视频或音频文件" in result.output
    with app.app_context():
        assert db.session.scalar(db.select(MediaAsset.status)) == AssetStatus.failed


def test_transcode_of_already_imported_content_says_so(app, runner, make_video):
    source = make_video("a.mp4", seconds=1)
    assert runner.invoke(args=["media", "transcode", str(source)]).exit_code == 0
    again = runner.invoke(args=["media", "transcode", str(source)])
    assert again.exit_code == 0 and "已导入过" in again.output and "输出目录" in again.output


def test_import_dir_queues_media_files_and_skips_duplicates(app, runner, make_video, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    first = make_video("第001集.mp4", seconds=1)
    shutil.copy(first, archive / "第001集.mp4")
    shutil.copy(first, archive / "第001集（重复）.mp4")
    shutil.copy(make_video("讲座.m4a", seconds=1, video=False), archive / "讲座.m4a")
    (archive / "说明.txt").write_text("节目单")

    result = runner.invoke(args=["media", "import-dir", str(archive)])
    assert result.exit_code == 0, result.output
    assert "共 3 个媒体文件：已排队 2 个，跳过重复 1 个，失败 0 个。" in result.output
    with app.app_context():
        titles = set(db.session.scalars(db.select(MediaAsset.title)))
        assert titles == {"第001集", "讲座"}
        assert all(j.status == JobStatus.queued for j in db.session.scalars(db.select(TranscodeJob)))
        assert app.extensions["huey"].pending_count() == 2

    again = runner.invoke(args=["media", "import-dir", str(archive)])
    assert "已排队 0 个，跳过重复 3 个" in again.output
    assert sorted(p.name for p in archive.iterdir()) == sorted(
        ["第001集.mp4", "第001集（重复）.mp4", "讲座.m4a", "说明.txt"]
    )


def test_import_dir_stops_when_the_quota_is_reached(app, runner, make_video, tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    for n in range(3):
        make_video(f"{n}.mp4", seconds=1, crf=20 + n)
        shutil.copy(tmp_path / "sources" / f"{n}.mp4", archive / f"{n}.mp4")
    app.config["MEDIA_MAX_TOTAL_BYTES"] = (archive / "0.mp4").stat().st_size + 10
    result = runner.invoke(args=["media", "import-dir", str(archive)])
    assert result.exit_code == 1
    assert "存储空间不足" in result.output and "已排队 1 个" in result.output


def test_reap_command_reports(runner):
    result = runner.invoke(args=["media", "reap"])
    assert result.exit_code == 0 and "重新排队 0 个" in result.output


def test_expire_uploads_command_with_nothing_to_expire(runner):
    result = runner.invoke(args=["media", "expire-uploads"])
    assert result.exit_code == 0, result.output
    assert "已清除 0 个超过 24 小时未继续的上传" in result.output


def test_media_commands_are_listed(runner):
    listing = runner.invoke(args=["media", "--help"]).output
    for command in ("transcode", "import-dir", "worker", "reap", "expire-uploads"):
        assert command in listing
