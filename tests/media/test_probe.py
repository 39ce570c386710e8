"""probe(): every unusable upload is refused with a Chinese reason an admin can act on."""

from __future__ import annotations

import random
import re
import subprocess

import pytest

from media.errors import MediaError
from media.probe import decode_check, probe

pytestmark = pytest.mark.usefixtures("require_ffmpeg")

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def refused(path) -> MediaError:
    with pytest.raises(MediaError) as caught:
        probe(path)
    assert CHINESE.search(caught.value.reason), caught.value.reason
    return caught.value


def test_normal_video_is_described(make_video):
    path = make_video("lesson.mp4", width=320, height=180, seconds=2, fps=25)
    info = probe(path)
    assert info.has_video and info.has_audio
    assert (info.width, info.height) == (320, 180)
    assert info.vcodec == "h264" and info.pix_fmt == "yuv420p" and info.acodec == "aac"
    assert info.audio_channels == 1 and info.fps == 25.0
    assert 1.9 < info.duration < 2.2
    assert info.bit_rate and "mp4" in info.format_name


def test_zero_byte_file_is_refused(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert refused(path).code == "empty"


def test_truncated_mp4_without_index_is_undecodable(make_video, tmp_path):
    whole = make_video("whole.mp4", width=320, height=180, seconds=2).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])  # the moov atom is at the end: gone
    error = refused(cut)
    assert error.code == "undecodable"
    assert "moov" in error.detail


def test_text_file_named_mp4_is_not_media(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("第一课 学习笔记\n" * 50, encoding="utf-8")
    error = refused(path)
    assert error.code == "not_media"
    assert "不是视频或音频文件" in error.reason


def test_chinese_text_that_sniffs_as_raw_amr_is_not_media(tmp_path):
    """ffprobe guesses this text is headerless AMR audio (probe score 26); we must not trust it."""
    path = tmp_path / "lesson.mp4"
    path.write_text("这不是视频，只是一段文字。\n" * 200, encoding="utf-8")
    error = refused(path)
    assert error.code == "not_media"
    assert "probe_score" in error.detail


@pytest.mark.parametrize("name", ["noise.mp4", "noise.bin", "noise"])
def test_random_bytes_are_not_media(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(random.Random(name).randbytes(64_000))
    assert refused(path).code == "not_media"


def test_png_image_is_refused(tmp_path, require_ffmpeg):
    path = tmp_path / "photo.mp4"  # the extension lies; the content is a PNG
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=320x180",
            "-frames:v",
            "1",
            "-f",
            "image2",
            "-c:v",
            "png",
            str(path),
        ],
        check=True,
    )
    error = refused(path)
    assert error.code == "not_media"
    assert "图片" in error.reason


def test_subtitles_only_have_no_streams(tmp_path):
    path = tmp_path / "lesson.srt"
    path.write_text("1\n00:00:00,000 --> 00:00:02,000\n不忘初心\n", encoding="utf-8")
    assert refused(path).code == "no_streams"


def test_single_frame_has_zero_duration(make_video):
    path = make_video("one.mp4", audio=False, seconds=1, extra=("-frames:v", "1"))
    assert refused(path).code == "zero_duration"


def test_audio_only_file(make_video):
    info = probe(make_video("talk.m4a", video=False, seconds=2))
    assert info.has_audio and not info.has_video
    assert (info.width, info.height, info.vcodec) == (0, 0, None)
    assert info.acodec == "aac" and info.audio_profile == "LC"


def test_mp3_with_cover_art_counts_as_audio(make_video, tmp_path):
    cover = tmp_path / "cover.png"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=red:s=64x64", "-frames:v", "1", str(cover)],
        check=True,
    )
    audio = make_video("talk.m4a", video=False, seconds=2)
    mp3 = tmp_path / "talk.mp3"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(audio),
            "-i",
            str(cover),
            "-map",
            "0:a",
            "-map",
            "1:v",
            "-c:a",
            "libmp3lame",
            "-c:v",
            "png",
            "-disposition:v",
            "attached_pic",
            str(mp3),
        ],
        check=True,
    )
    info = probe(mp3)
    assert info.has_audio and not info.has_video


def test_rotated_phone_video_reports_display_size(make_video):
    info = probe(make_video("phone.mp4", width=320, height=180, rotate=90))
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (180, 320)


def test_decode_check_accepts_a_good_file_and_refuses_the_same_file_damaged(make_video, tmp_path):
    good = make_video("ok.mp4", seconds=1)
    assert decode_check(good, seconds=1) is None
    damaged = tmp_path / "damaged.mp4"
    data = bytearray(good.read_bytes())
    keep = len(data) // 8  # the header and the start of the first frames stay, the rest is noise
    data[keep:] = bytes((i * 131 + 7) % 256 for i in range(len(data) - keep))
    damaged.write_bytes(bytes(data))
    with pytest.raises(MediaError) as error:
        probe(damaged)
        decode_check(damaged, seconds=1)
    assert error.value.code in ("undecodable", "not_media", "no_streams", "zero_duration")
