"""transcode(): one real ffmpeg run per case on tiny generated clips, checked with ffprobe."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest

import media.transcode as transcode_module
from media.errors import MediaError
from media.ladder import plan
from media.probe import probe
from media.transcode import first_phase, second_phase, transcode, two_phase
from tests.media.conftest import ffprobe, generate, leftovers, streams

pytestmark = [pytest.mark.usefixtures("require_ffmpeg"), pytest.mark.slow]


def read_playlist(path: Path) -> tuple[list[tuple[float, str]], dict[str, str]]:
    """(EXTINF, uri) pairs and the other tags of a media playlist."""
    entries, tags, extinf = [], {}, None
    for line in path.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            extinf = float(line[8:].split(",")[0])
        elif line.startswith("#"):
            key, _, value = line.partition(":")
            tags[key] = value
        elif line:
            entries.append((extinf, line))
    return entries, tags


def master_variants(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text().splitlines()
    return [(line, lines[n + 1]) for n, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF:")]


def first_frame_is_key(segment: Path) -> bool:
    import subprocess

    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-read_intervals",
            "%+#1",
            "-show_entries",
            "frame=key_frame",
            "-of",
            "csv=p=0",
            str(segment),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()[0].split(",")[0] == "1"


@pytest.fixture(scope="module")
def ladder(tmp_path_factory, require_ffmpeg):
    """One full (re-encoded) ladder of a 9 s 480p clip, shared by the checks below."""
    root = tmp_path_factory.mktemp("ladder")
    src = generate(root / "lesson.mp4", width=854, height=480, seconds=9, fps=15)
    progress: list[float] = []
    result = transcode(
        src,
        root / "assets" / "lesson-1",
        allow_remux=False,
        on_progress=lambda percent, speed: progress.append(percent),
    )
    return SimpleNamespace(src=src, result=result, progress=progress, parent=root / "assets")


def test_ladder_layout_and_result(ladder):
    result = ladder.result
    assert not result.fast_path and not result.audio_only and result.has_audio
    assert [(r.name, r.width, r.height) for r in result.renditions] == [("480p", 854, 480), ("360p", 640, 360)]
    assert result.master == result.dest_dir / "master.m3u8" and result.master.is_file()
    assert result.mp4 == result.dest_dir / "video.mp4" and result.poster == result.dest_dir / "poster.jpg"
    assert 8.5 < result.duration < 9.5
    for rendition in result.renditions:
        assert (result.dest_dir / rendition.playlist).is_file()
        assert rendition.bandwidth >= rendition.average_bandwidth > 0


def test_master_lists_bandwidth_resolution_and_codecs_for_every_rung(ladder):
    variants = master_variants(ladder.result.master)
    assert [uri for _, uri in variants] == ["480p/index.m3u8", "360p/index.m3u8"]
    for (tag, _), rendition in zip(variants, ladder.result.renditions, strict=True):
        assert f"BANDWIDTH={rendition.bandwidth}" in tag
        assert f"RESOLUTION={rendition.width}x{rendition.height}" in tag
        assert 'CODECS="avc1.4d40' in tag and 'mp4a.40.2"' in tag  # main profile + AAC-LC


def test_segments_are_about_four_seconds(ladder):
    for rendition in ladder.result.renditions:
        entries, tags = read_playlist(ladder.result.dest_dir / rendition.playlist)
        assert tags["#EXT-X-TARGETDURATION"] == "4" and tags["#EXT-X-PLAYLIST-TYPE"] == "VOD"
        assert "#EXT-X-ENDLIST" in tags
        assert len(entries) == 3
        assert all(3.5 <= d <= 4.5 for d, _ in entries[:-1])
        assert 0 < entries[-1][0] <= 4.5


def test_keyframes_are_aligned_across_rungs(ladder):
    durations = []
    for rendition in ladder.result.renditions:
        entries, _ = read_playlist(ladder.result.dest_dir / rendition.playlist)
        durations.append([d for d, _ in entries])
        folder = ladder.result.dest_dir / rendition.playlist.split("/")[0]
        assert all(first_frame_is_key(folder / uri) for _, uri in entries)
    assert all(d == durations[0] for d in durations)


def test_renditions_are_h264_main_with_aac_stereo(ladder):
    for rendition in ladder.result.renditions:
        segment = ladder.result.dest_dir / rendition.playlist.replace("index.m3u8", "seg_00000.ts")
        [video] = streams(segment, "video")
        [audio] = streams(segment, "audio")
        assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "Main", "yuv420p")
        assert (video["width"], video["height"]) == (rendition.width, rendition.height)
        assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("aac", "48000", 2)


def test_mp4_fallback_is_faststart_and_complete(ladder):
    data = ladder.result.mp4.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    info = ffprobe(ladder.result.mp4)
    kinds = {s["codec_type"]: s for s in info["streams"]}
    assert kinds["video"]["codec_name"] == "h264" and kinds["audio"]["codec_name"] == "aac"
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (854, 480)
    assert 8.5 < float(info["format"]["duration"]) < 9.5


def test_poster_is_a_jpeg_with_the_source_aspect(ladder):
    assert ladder.result.poster.read_bytes()[:2] == b"\xff\xd8"
    [image] = streams(ladder.result.poster, "video")
    assert image["codec_name"] == "mjpeg"
    assert abs(image["width"] / image["height"] - 854 / 480) < 0.01


def test_progress_rises_to_100(ladder):
    assert len(ladder.progress) >= 2
    assert ladder.progress == sorted(ladder.progress) and ladder.progress[-1] == 100.0


def test_output_is_moved_into_place_without_leftovers(ladder):
    assert [p.name for p in ladder.parent.iterdir()] == ["lesson-1"]


def test_the_whole_ladder_is_one_ffmpeg_process(ladder):
    command = ladder.result.command
    assert command.count("-i") == 1 and "-progress" in command
    joined = " ".join(command)
    assert "split=3" in joined and "tee" in joined and "var_stream_map" in joined
    assert "master_pl_name=master.m3u8" in joined and "+faststart" in joined and "poster.jpg" in joined


def test_two_second_clip(make_video, tmp_path):
    result = transcode(make_video("short.mp4", width=320, height=180, seconds=2), tmp_path / "out")
    [rendition] = result.renditions
    assert (rendition.width, rendition.height) == (320, 180)
    entries, _ = read_playlist(result.dest_dir / rendition.playlist)
    assert len(entries) == 1 and 1.8 < entries[0][0] < 2.3
    assert 1.8 < float(ffprobe(result.mp4)["format"]["duration"]) < 2.3


def test_video_without_audio(make_video, tmp_path):
    result = transcode(
        make_video("silent.mp4", width=640, height=360, seconds=2, audio=False, vcodec="mpeg4"), tmp_path / "out"
    )
    assert not result.has_audio
    segment = result.dest_dir / result.renditions[0].playlist.replace("index.m3u8", "seg_00000.ts")
    assert streams(segment, "audio") == [] and len(streams(segment, "video")) == 1
    assert streams(result.mp4, "audio") == []
    assert "mp4a" not in result.master.read_text()
    assert all(r.codecs.startswith("avc1.") and "," not in r.codecs for r in result.renditions)


def test_audio_only_gives_hls_m4a_and_a_drawn_poster(make_video, tmp_path):
    result = transcode(make_video("talk.mp3", video=False, seconds=3, acodec="libmp3lame"), tmp_path / "out")
    assert result.audio_only and result.mp4.name == "audio.m4a"
    [rendition] = result.renditions
    assert rendition.playlist == "audio/index.m3u8" and rendition.codecs == "mp4a.40.2"
    [(tag, _)] = master_variants(result.master)
    assert 'CODECS="mp4a.40.2"' in tag and "RESOLUTION" not in tag
    entries, _ = read_playlist(result.dest_dir / rendition.playlist)
    segment = result.dest_dir / "audio" / entries[0][1]
    assert streams(segment, "video") == [] and streams(segment, "audio")[0]["codec_name"] == "aac"
    [audio] = streams(result.mp4, "audio")
    assert streams(result.mp4, "video") == [] and audio["codec_name"] == "aac"
    [poster] = streams(result.poster, "video")
    assert (poster["codec_name"], poster["width"], poster["height"]) == ("mjpeg", 1280, 720)


def test_fast_path_copies_the_top_rung(make_video, tmp_path):
    src = make_video("ready.mp4", width=1280, height=720, seconds=3, fps=10, crf=35)
    [source_video] = streams(src, "video")
    result = transcode(src, tmp_path / "out")
    assert result.fast_path
    assert [(r.name, r.copied) for r in result.renditions] == [("720p", True), ("480p", False), ("360p", False)]
    top = result.dest_dir / "720p" / "seg_00000.ts"
    [copied] = streams(top, "video")
    # x264 ultrafast made Constrained Baseline; our encoder makes Main: the top rung was not re-encoded
    assert copied["profile"] == source_video["profile"] == "Constrained Baseline"
    assert streams(result.dest_dir / "480p" / "seg_00000.ts", "video")[0]["profile"] == "Main"
    [mp4_video] = streams(result.mp4, "video")
    assert mp4_video["profile"] == "Constrained Baseline"
    assert abs(int(mp4_video["bit_rate"]) - int(source_video["bit_rate"])) < 0.02 * int(source_video["bit_rate"])
    assert 'CODECS="avc1.42c0' in result.master.read_text()  # filled in for the copied stream


def test_two_phases_copy_first_then_add_the_encoded_rungs_next_to_hard_links(make_video, tmp_path):
    src = make_video("ready.mp4", width=854, height=480, seconds=2, fps=10, crf=35)
    the_plan = plan(probe(src))
    assert two_phase(the_plan) and [r.name for r in the_plan.rungs] == ["480p", "360p"]
    first = first_phase(src, tmp_path / "assets" / "v1", the_plan)
    # Nothing encoded in phase 1: one copied rung, the copied MP4 and a poster.
    assert [(r.name, r.copied) for r in first.renditions] == [("480p", True)]
    assert "libx264" not in first.command and "poster.jpg" not in " ".join(first.command)
    assert streams(first.mp4, "video")[0]["profile"] == "Constrained Baseline"
    assert first.poster.read_bytes()[:2] == b"\xff\xd8"
    before = sorted(p.relative_to(first.dest_dir) for p in first.dest_dir.rglob("*"))

    second = second_phase(src, first.dest_dir, tmp_path / "assets" / "v2", the_plan)
    assert [(r.name, r.copied) for r in second.renditions] == [("480p", True), ("360p", False)]
    assert [uri for _, uri in master_variants(second.master)] == ["480p/index.m3u8", "360p/index.m3u8"]
    assert streams(second.dest_dir / "360p" / "seg_00000.ts", "video")[0]["profile"] == "Main"
    for name in ("480p/index.m3u8", "480p/seg_00000.ts", "video.mp4", "poster.jpg"):
        assert os.stat(first.dest_dir / name).st_ino == os.stat(second.dest_dir / name).st_ino
    # Phase 1's folder is untouched (players on it keep working) and nothing is left over.
    assert sorted(p.relative_to(first.dest_dir) for p in first.dest_dir.rglob("*")) == before
    assert [uri for _, uri in master_variants(first.master)] == ["480p/index.m3u8"]
    assert leftovers(tmp_path / "assets") == []


def test_fast_path_can_be_turned_off(make_video, tmp_path):
    src = make_video("ready.mp4", width=1280, height=720, seconds=1, fps=10, crf=35)
    result = transcode(src, tmp_path / "out", allow_remux=False)
    assert not result.fast_path and not any(r.copied for r in result.renditions)
    assert streams(result.dest_dir / "720p" / "seg_00000.ts", "video")[0]["profile"] == "Main"


def test_fast_path_from_an_mpeg_ts_source_still_makes_a_valid_mp4(make_video, tmp_path):
    result = transcode(make_video("camera.ts", width=640, height=360, seconds=2, crf=35, channels=2), tmp_path / "out")
    assert result.fast_path and result.renditions[0].copied
    kinds = {s["codec_type"]: s for s in ffprobe(result.mp4)["streams"]}
    assert (kinds["video"]["codec_tag_string"], kinds["audio"]["codec_tag_string"]) == ("avc1", "mp4a")
    assert 1.8 < float(ffprobe(result.mp4)["format"]["duration"]) < 2.3


def test_high_frame_rate_and_surround_are_brought_down(make_video, tmp_path):
    src = make_video("sport.mkv", width=320, height=180, seconds=1, fps=120, channels=6)
    assert streams(src, "audio")[0]["channels"] == 6
    result = transcode(src, tmp_path / "out")
    [video] = streams(result.mp4, "video")
    [audio] = streams(result.mp4, "audio")
    assert video["avg_frame_rate"] == "60/1" and audio["channels"] == 2


def test_4k_source_is_capped_at_1080(make_video, tmp_path):
    src = make_video("uhd.mp4", width=3840, height=2160, seconds=1, fps=5, audio=False, crf=40)
    result = transcode(src, tmp_path / "out")
    assert [(r.width, r.height) for r in result.renditions] == [(1920, 1080), (1280, 720), (854, 480), (640, 360)]
    [video] = streams(result.dest_dir / "1080p" / "seg_00000.ts", "video")
    assert (video["width"], video["height"]) == (1920, 1080)


def test_1081_high_source_gets_even_dimensions(make_video, tmp_path):
    src = make_video("odd.mp4", width=1921, height=1081, seconds=1, fps=5, audio=False, pix_fmt="yuv444p")
    result = transcode(src, tmp_path / "out")
    for rendition in result.renditions:
        [video] = streams(result.dest_dir / rendition.name / "seg_00000.ts", "video")
        assert video["width"] % 2 == 0 and video["height"] % 2 == 0 and video["pix_fmt"] == "yuv420p"
    assert (result.renditions[0].width, result.renditions[0].height) == (1920, 1080)


def test_vertical_source_keeps_its_aspect(make_video, tmp_path):
    src = make_video("phone.mp4", width=720, height=1280, seconds=1, fps=10, vcodec="mpeg4")
    result = transcode(src, tmp_path / "out")
    found = [(streams(result.dest_dir / r.name / "seg_00000.ts", "video")[0]) for r in result.renditions]
    assert [(v["width"], v["height"]) for v in found] == [(720, 1280), (480, 854), (360, 640)]
    [poster] = streams(result.poster, "video")
    assert (poster["width"], poster["height"]) == (720, 1280)


def test_rotated_source_is_turned_upright(make_video, tmp_path):
    result = transcode(make_video("turned.mp4", width=320, height=180, seconds=1, rotate=90), tmp_path / "out")
    [video] = streams(result.dest_dir / result.renditions[0].name / "seg_00000.ts", "video")
    assert (video["width"], video["height"]) == (180, 320)


def test_cancel_kills_ffmpeg_and_leaves_nothing(make_video, tmp_path):
    src = make_video("long.mp4", width=640, height=360, seconds=20, fps=25)
    seen: list[float] = []
    with pytest.raises(MediaError) as caught:
        transcode(
            src,
            tmp_path / "assets" / "a",
            on_progress=lambda p, s: seen.append(p),
            should_cancel=lambda: bool(seen),
            allow_remux=False,
        )
    assert caught.value.code == "cancelled" and caught.value.reason == "转码已取消"
    assert seen and seen[-1] < 100
    assert leftovers(tmp_path / "assets") == [] and not (tmp_path / "assets" / "a").exists()


def test_killed_ffmpeg_is_reported_and_leaves_nothing(make_video, tmp_path):
    src = make_video("long.mp4", width=640, height=360, seconds=20, fps=25)
    parent = tmp_path / "assets"

    def kill_ffmpeg(percent, speed):
        for entry in Path("/proc").iterdir():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if entry.name.isdigit() and argv[0].endswith(b"ffmpeg") and str(parent).encode() in b" ".join(argv):
                os.kill(int(entry.name), signal.SIGKILL)

    with pytest.raises(MediaError) as caught:
        transcode(src, parent / "a", on_progress=kill_ffmpeg, allow_remux=False)
    # Not the file's fault: media.tasks re-queues "ffmpeg_killed" instead of failing the job.
    assert caught.value.code == "ffmpeg_killed" and "被系统强行结束（SIGKILL）" in caught.value.reason
    assert caught.value.detail.startswith("killed by SIGKILL")
    assert leftovers(parent) == [] and not (parent / "a").exists()


def test_ffmpeg_error_text_is_kept_in_detail(make_video, tmp_path, monkeypatch):
    real = transcode_module.build_args

    def broken(src, tmp_dir, plan, **kw):
        return [("no-such-preset" if arg == "veryfast" else arg) for arg in real(src, tmp_dir, plan, **kw)]

    monkeypatch.setattr(transcode_module, "build_args", broken)
    with pytest.raises(MediaError) as caught:
        transcode(make_video("a.mp4", seconds=1), tmp_path / "assets" / "a", allow_remux=False)
    assert caught.value.code == "ffmpeg_failed" and "退出码" in caught.value.reason
    assert "preset" in caught.value.detail.lower()
    assert leftovers(tmp_path / "assets") == []


def test_source_cut_short_behind_an_intact_index_is_refused(make_video, tmp_path):
    whole = make_video("whole.mp4", width=320, height=180, seconds=8, extra=("-movflags", "+faststart"))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(MediaError) as caught:
        transcode(cut, tmp_path / "assets" / "a")
    assert caught.value.code == "undecodable" and "不完整" in caught.value.reason
    assert leftovers(tmp_path / "assets") == [] and not (tmp_path / "assets" / "a").exists()


def test_unusable_source_fails_before_any_output(tmp_path):
    src = tmp_path / "notes.mp4"
    src.write_text("not a video")
    with pytest.raises(MediaError) as caught:
        transcode(src, tmp_path / "assets" / "a")
    assert caught.value.code == "not_media"
    assert not any((tmp_path / "assets").glob("*"))


def test_transcoding_again_replaces_the_old_output(make_video, tmp_path):
    src = make_video("a.mp4", seconds=1)
    first = transcode(src, tmp_path / "assets" / "a")
    (first.dest_dir / "stale.txt").write_text("old")
    second = transcode(src, tmp_path / "assets" / "a")
    assert not (second.dest_dir / "stale.txt").exists() and second.master.is_file()
    assert leftovers(tmp_path / "assets") == []


def test_awkward_folder_names_survive_tee_escaping(make_video, tmp_path):
    dest = tmp_path / "课程 it's [1]|a:b, c" / "lesson"
    result = transcode(make_video("a.mp4", seconds=1), dest)
    assert result.master.is_file() and result.mp4.is_file() and result.poster.is_file()
    assert (dest / result.renditions[0].playlist).is_file()
