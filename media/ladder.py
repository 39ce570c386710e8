"""Choose the renditions of one source: which sizes, which bitrate caps, what to copy.

Rungs are named by their *short side* (so a vertical 720x1280 phone clip gets 720/480/360
rungs whose widths are 720/480/360), are never larger than the source and always have
even dimensions (4:2:0 H.264 needs them).

Bitrate caps (``-maxrate``; ``-bufsize`` is twice that) at 30 fps for a 16:9 picture.
x264 runs in capped-CRF mode (``-crf 23``), so easy pictures such as slides use far less;
the cap only bounds what a set-top box on a village line must sustain. Bits per pixel
rise as pictures shrink because small pictures carry less redundancy — the same shape
as PeerTube's bits-per-pixel table, held lower because lessons are mostly talking heads
and slides:

=====  ==========  ============  ============  ==========================
rung   reference   video cap     bits/pixel    with AAC 128k (est. peak)
=====  ==========  ============  ============  ==========================
1080p  1920x1080   5000 kbit/s   0.080         5.6 Mbit/s
720p   1280x720    2800 kbit/s   0.101         3.2 Mbit/s
480p   854x480     1400 kbit/s   0.114         1.7 Mbit/s
360p   640x360      800 kbit/s   0.116         1.0 Mbit/s
<360   own size     scaled by pixels, at least 200 kbit/s
=====  ==========  ============  ============  ==========================

Other aspect ratios scale the cap by their pixel count (clamped to x0.25 .. x2). Above
30 fps the cap grows by ``(fps / 30) ** 0.6`` (60 fps -> x1.52), because successive
frames are more alike; sources above 60 fps are halved (or more) to at most 60 fps.
Audio is AAC-LC stereo 48 kHz at 128 kbit/s. The MP4 fallback is the highest rung whose
short side is at most 720. x264 uses preset ``veryfast``: on a 2-core server it keeps a
1080p ladder near real time, and at capped bitrates it loses little against ``medium``.

Fast path: a source that is already H.264 4:2:0 (8-bit), with AAC-LC or no audio, short
side <= 720, no rotation, square pixels, <= 60 fps and a bitrate no more than twice its
rung's cap is copied as the top rung and as the MP4 (no re-encode); only the lower rungs
are encoded. Its segments follow the source's own keyframes. The worker publishes the copy
first (playable within seconds) and the lower rungs in a second version (media.tasks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from media.probe import ProbeInfo

#: Standard rungs (short side), highest first.
RUNGS = (1080, 720, 480, 360)
#: Video caps in bit/s and the 16:9 pixel count they were set for.
VIDEO_CAPS = {1080: 5_000_000, 720: 2_800_000, 480: 1_400_000, 360: 800_000}
REFERENCE_PIXELS = {1080: 1920 * 1080, 720: 1280 * 720, 480: 854 * 480, 360: 640 * 360}
MIN_VIDEO_CAP = 200_000
AUDIO_BITRATE = 128_000
AUDIO_SAMPLE_RATE = 48_000
MP4_MAX_SHORT_SIDE = 720
SEGMENT_SECONDS = 4
KEYFRAME_SECONDS = 2
X264_PRESET = "veryfast"
X264_CRF = 23
MAX_FPS = 60.0
#: A source whose short side is within 10 % below a standard rung keeps its own size as
#: an extra top rung instead of dropping to the next rung down (712p -> 712/480/360).
NEAR_MISS = 0.9
#: In the fast path, encoded rungs must be clearly smaller than the copied one.
FAST_PATH_GAP = 0.85
FAST_PATH_PROFILES = frozenset({"Constrained Baseline", "Baseline", "Main", "High"})
AUDIO_ONLY_POSTER = (1280, 720)


@dataclass(frozen=True)
class Rung:
    """One HLS variant; ``name`` (e.g. "720p") is also its folder in the output."""

    name: str
    width: int
    height: int
    video_bitrate: int
    copy: bool = False

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def bufsize(self) -> int:
        return 2 * self.video_bitrate


@dataclass(frozen=True)
class TranscodePlan:
    """Everything :func:`media.transcode.build_args` needs; pure data, easy to test."""

    duration: float
    rungs: tuple[Rung, ...]
    has_audio: bool
    audio_only: bool
    copy_audio: bool
    audio_bitrate: int
    fps: float
    fps_filter: float | None
    gop: int
    mp4_index: int | None
    fast_path: bool
    poster_time: float
    poster_size: tuple[int, int]
    preset: str = X264_PRESET
    crf: int = X264_CRF

    @property
    def mp4_rung(self) -> Rung | None:
        return None if self.mp4_index is None else self.rungs[self.mp4_index]

    def estimated_bandwidth(self, rung: Rung) -> int:
        """Peak bit/s a player should budget for, as written to the master playlist."""
        audio = self.audio_bitrate if self.has_audio else 0
        return int((rung.video_bitrate + audio) * 1.1)


def even(value: float, limit: int | None = None) -> int:
    """Nearest even integer >= 2, never above ``limit`` rounded down to even."""
    result = max(2, round(value / 2.0) * 2)
    if limit is not None:
        result = min(result, max(2, limit - limit % 2))
    return result


def fps_factor(fps: float) -> float:
    return max(1.0, (fps / 30.0) ** 0.6)


def video_cap(width: int, height: int, fps: float) -> int:
    """The ``-maxrate`` for a picture of this size, per the table in the module docstring."""
    short = min(width, height)
    klass = min(RUNGS, key=lambda r: (abs(r - short), r))
    ratio = min(2.0, max(0.25, width * height / REFERENCE_PIXELS[klass]))
    cap = VIDEO_CAPS[klass] * ratio * fps_factor(fps)
    return max(MIN_VIDEO_CAP, round(cap / 1000.0) * 1000)


def rung_size(width: int, height: int, short: int) -> tuple[int, int]:
    """Scale (width, height) so its short side is ``short``, keeping aspect, even dims."""
    if width >= height:
        return even(width * short / height, width), short
    return short, even(height * short / width, height)


def output_fps(fps: float) -> tuple[float, float | None]:
    """Frame rate to encode at, and the fps filter value when the source must be thinned."""
    if fps <= MAX_FPS:
        return fps, None
    reduced = round(fps / math.ceil(fps / MAX_FPS), 3)
    return reduced, reduced


def can_remux(info: ProbeInfo) -> bool:
    """True when the source may be served as-is for its own size (see module docstring)."""
    if not info.has_video or info.vcodec != "h264" or info.pix_fmt != "yuv420p":
        return False
    if info.profile not in FAST_PATH_PROFILES:
        return False
    if info.has_audio and not (
        info.acodec == "aac" and info.audio_profile in ("LC", None) and 1 <= info.audio_channels <= 2
    ):
        return False
    if info.short_side > MP4_MAX_SHORT_SIDE or info.rotation or abs(info.sar - 1.0) > 0.01:
        return False
    if info.fps > MAX_FPS:
        return False
    bitrate = info.video_bit_rate or info.bit_rate
    return bitrate is None or bitrate <= 2 * video_cap(info.width, info.height, info.fps)


def _short_sides(short: int) -> list[int]:
    """Short sides of the encoded rungs for a source whose short side is ``short``."""
    if short < RUNGS[-1]:
        return [even(short, short)]
    sides = [r for r in RUNGS if r <= short]
    bigger = [r for r in RUNGS if r > short]
    if bigger and short >= NEAR_MISS * bigger[-1]:
        sides.insert(0, even(short, short))
    return sides


def plan(info: ProbeInfo, *, allow_remux: bool = True) -> TranscodePlan:
    """Pick the ladder for ``info``; ``allow_remux=False`` forces a full re-encode."""
    if not info.has_video:
        return _audio_only_plan(info)

    fps, fps_filter = output_fps(info.fps)
    fast = allow_remux and can_remux(info)
    rungs: list[Rung] = []
    if fast:
        source_video = info.video_bit_rate or max(0, (info.bit_rate or 0) - AUDIO_BITRATE)
        rungs.append(
            Rung(
                f"{info.short_side}p",
                info.width,
                info.height,
                source_video or video_cap(info.width, info.height, fps),
                copy=True,
            )
        )
        sides = [s for s in RUNGS if s <= FAST_PATH_GAP * info.short_side]
    else:
        sides = _short_sides(info.short_side)
    for side in sides:
        width, height = rung_size(info.width, info.height, side)
        rungs.append(Rung(f"{side}p", width, height, video_cap(width, height, fps)))

    mp4_index = next(i for i, r in enumerate(rungs) if r.short_side <= MP4_MAX_SHORT_SIDE or i == len(rungs) - 1)
    poster = rungs[mp4_index]
    return TranscodePlan(
        duration=info.duration,
        rungs=tuple(rungs),
        has_audio=info.has_audio,
        audio_only=False,
        copy_audio=fast and info.has_audio,
        audio_bitrate=AUDIO_BITRATE,
        fps=fps,
        fps_filter=fps_filter,
        gop=max(1, round(fps * KEYFRAME_SECONDS)),
        mp4_index=mp4_index,
        fast_path=fast,
        poster_time=_poster_time(info.duration),
        poster_size=(poster.width, poster.height),
    )


def _audio_only_plan(info: ProbeInfo) -> TranscodePlan:
    return TranscodePlan(
        duration=info.duration,
        rungs=(),
        has_audio=True,
        audio_only=True,
        copy_audio=False,
        audio_bitrate=AUDIO_BITRATE,
        fps=0.0,
        fps_filter=None,
        gop=0,
        mp4_index=None,
        fast_path=False,
        poster_time=0.0,
        poster_size=AUDIO_ONLY_POSTER,
    )


def _poster_time(duration: float) -> float:
    """About 10 % in: past fade-ins and title cards, still early in the lesson."""
    return round(max(0.0, min(duration * 0.1, duration - 0.5)), 3)
