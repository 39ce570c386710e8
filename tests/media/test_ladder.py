"""plan(): which rungs, how big, how many bits, and when the source can simply be copied."""

from __future__ import annotations

import dataclasses

import pytest

from media.ladder import AUDIO_BITRATE, RUNGS, plan, video_cap
from media.probe import ProbeInfo, probe

H264_720P = ProbeInfo(
    duration=60.0,
    has_video=True,
    has_audio=True,
    width=1280,
    height=720,
    vcodec="h264",
    pix_fmt="yuv420p",
    profile="High",
    acodec="aac",
    audio_channels=2,
    fps=25.0,
    bit_rate=2_000_000,
    format_name="mov,mp4,m4a,3gp,3g2,mj2",
    video_bit_rate=1_800_000,
    audio_profile="LC",
    audio_sample_rate=48000,
)


def source(width: int, height: int, **changes) -> ProbeInfo:
    return dataclasses.replace(H264_720P, width=width, height=height, vcodec="hevc", **changes)


def sizes(the_plan) -> list[tuple[int, int]]:
    return [(r.width, r.height) for r in the_plan.rungs]


def test_4k_source_tops_out_at_1080(make_video):
    info = probe(make_video("uhd.mp4", width=3840, height=2160, seconds=1, fps=5, audio=False))
    assert (info.width, info.height) == (3840, 2160)
    assert sizes(plan(info)) == [(1920, 1080), (1280, 720), (854, 480), (640, 360)]


def test_1081_high_source_gets_an_even_1080_top_rung():
    the_plan = plan(source(1921, 1081))
    assert sizes(the_plan)[0] == (1920, 1080)
    assert [r.short_side for r in the_plan.rungs] == [1080, 720, 480, 360]


def test_vertical_video_rungs_are_named_by_the_short_side():
    the_plan = plan(source(720, 1280))
    assert sizes(the_plan) == [(720, 1280), (480, 854), (360, 640)]
    assert [r.name for r in the_plan.rungs] == ["720p", "480p", "360p"]


def test_tiny_source_gets_one_rung_at_its_own_size():
    assert sizes(plan(source(160, 90))) == [(160, 90)]
    assert sizes(plan(source(321, 181))) == [(320, 180)]


def test_source_just_below_a_rung_keeps_its_own_size():
    assert sizes(plan(source(1280, 712))) == [(1280, 712), (862, 480), (648, 360)]
    assert sizes(plan(source(854, 470))) == [(854, 470), (654, 360)]


@pytest.mark.parametrize(
    "width,height",
    [
        (3840, 2160),
        (1920, 1080),
        (1921, 1081),
        (1440, 1080),
        (1280, 720),
        (1279, 719),
        (720, 1280),
        (1080, 1920),
        (640, 480),
        (720, 576),
        (854, 480),
        (853, 480),
        (2560, 1080),
        (400, 300),
        (98, 54),
    ],
)
def test_rungs_never_upscale_and_have_even_sides(width, height):
    the_plan = plan(source(width, height))
    assert the_plan.rungs
    for rung in the_plan.rungs:
        assert rung.width % 2 == 0 and rung.height % 2 == 0
        assert rung.width <= width and rung.height <= height
        assert rung.short_side in RUNGS or rung.short_side >= min(width, height) - 1
        assert abs(rung.width / rung.height - width / height) < 0.02
    shorts = [r.short_side for r in the_plan.rungs]
    assert shorts == sorted(shorts, reverse=True) and len(set(shorts)) == len(shorts)


def test_bitrate_caps_follow_the_table():
    assert [video_cap(w, h, 30) for w, h in [(1920, 1080), (1280, 720), (854, 480), (640, 360)]] == [
        5_000_000,
        2_800_000,
        1_400_000,
        800_000,
    ]
    assert video_cap(1280, 720, 25) == 2_800_000
    assert 1.45 < video_cap(1280, 720, 60) / video_cap(1280, 720, 30) < 1.6
    assert video_cap(720, 1280, 30) == video_cap(1280, 720, 30)
    assert video_cap(1440, 1080, 30) < video_cap(1920, 1080, 30)
    assert video_cap(160, 90, 30) == 200_000


def test_mp4_fallback_is_at_most_720p():
    assert plan(source(3840, 2160)).mp4_rung.height == 720
    assert plan(source(1080, 1920)).mp4_rung.width == 720
    assert plan(source(640, 360)).mp4_rung.height == 360


def test_keyframe_interval_is_two_seconds():
    assert plan(source(1280, 720, fps=25.0)).gop == 50
    assert plan(source(1280, 720, fps=29.97)).gop == 60


def test_high_frame_rate_is_thinned_to_60():
    the_plan = plan(source(1280, 720, fps=120.0))
    assert the_plan.fps == 60.0 and the_plan.fps_filter == 60.0
    assert plan(source(1280, 720, fps=50.0)).fps_filter is None


def test_h264_aac_720p_takes_the_fast_path():
    the_plan = plan(H264_720P)
    assert the_plan.fast_path and the_plan.copy_audio
    top, *lower = the_plan.rungs
    assert top.copy and (top.width, top.height) == (1280, 720)
    assert [(r.width, r.height, r.copy) for r in lower] == [(854, 480, False), (640, 360, False)]
    assert the_plan.mp4_index == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"width": 1920, "height": 1080},  # above 720p: the top rung must shrink
        {"vcodec": "hevc"},
        {"pix_fmt": "yuv420p10le"},
        {"profile": "High 4:4:4 Predictive"},
        {"acodec": "mp3"},
        {"audio_channels": 6},
        {"audio_profile": "HE-AAC"},
        {"rotation": 90},
        {"sar": 1.333},
        {"video_bit_rate": 12_000_000},  # a phone's 12 Mbit/s is no village rung
    ],
)
def test_fast_path_needs_a_source_that_is_fine_as_is(changes):
    the_plan = plan(dataclasses.replace(H264_720P, **changes))
    assert not the_plan.fast_path and not the_plan.copy_audio
    assert not any(r.copy for r in the_plan.rungs)


def test_fast_path_can_be_disabled():
    the_plan = plan(H264_720P, allow_remux=False)
    assert not the_plan.fast_path
    assert sizes(the_plan) == [(1280, 720), (854, 480), (640, 360)]


def test_fast_path_without_audio():
    the_plan = plan(dataclasses.replace(H264_720P, has_audio=False, acodec=None, audio_channels=0))
    assert the_plan.fast_path and not the_plan.has_audio and not the_plan.copy_audio


def test_audio_only_plan():
    info = dataclasses.replace(H264_720P, has_video=False, width=0, height=0, vcodec=None)
    the_plan = plan(info)
    assert the_plan.audio_only and the_plan.rungs == () and the_plan.mp4_index is None
    assert the_plan.audio_bitrate == AUDIO_BITRATE
    assert the_plan.poster_size == (1280, 720)


def test_poster_is_taken_ten_percent_in():
    assert plan(source(1280, 720, duration=100.0)).poster_time == 10.0
    assert plan(source(1280, 720, duration=0.4)).poster_time == 0.0
