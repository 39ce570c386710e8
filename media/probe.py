"""Validate an uploaded file with ffprobe before any job is queued.

Everything the transcoder needs to plan a ladder is read here once, and every way an
upload can be unusable becomes a :class:`MediaError` whose ``reason`` an admin can act on.
"""

from __future__ import annotations

import ctypes
import functools
import json
import math
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from media.errors import MediaError

FFPROBE = "ffprobe"
FFMPEG = "ffmpeg"

#: Demuxers that mean "a still picture", never a lesson.
IMAGE_FORMATS = frozenset({"image2", "gif", "apng", "webp", "ico", "tiff", "bmp", "psd"})
#: Demuxers we refuse outright: playlists and scripts can make ffmpeg open other files,
#: and the text-art demuxers accept any bytes at all (random data "is" a .bin picture).
REFUSED_FORMATS = frozenset(
    {
        "hls",
        "applehttp",
        "concat",
        "lavfi",
        "ffmetadata",
        "sdp",
        "rtp",
        "rtsp",
        "data",
        "tty",
        "bin",
        "xbin",
        "adf",
        "idf",
    }
)
#: ffprobe's confidence below which a format guess is not trusted. Real containers score
#: 100 (magic bytes) and genuine raw streams (mp3, aac, h264, mpegts) >= 50; headerless
#: formats sniffed out of arbitrary bytes score barely above AVPROBE_SCORE_RETRY (25).
MIN_PROBE_SCORE = 50
TEXT_ART_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})
#: Codecs that only ever carry single pictures when the container has no real duration.
STILL_CODECS = frozenset({"png", "mjpeg", "jpeg2000", "jpegls", "bmp", "gif", "webp", "tiff", "ljpeg", "apng"})
#: First bytes of common media containers; a failing file that starts like one is
#: damaged media ("undecodable"), anything else is "not_media".
_MEDIA_MAGIC = (
    b"\x1a\x45\xdf\xa3",
    b"RIFF",
    b"OggS",
    b"FLV",
    b"ID3",
    b"fLaC",
    b".RMF",
    b"\x30\x26\xb2\x75",
    b"\x00\x00\x01\xba",
    b"#!AMR",
)
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")

NOT_MEDIA = "不是视频或音频文件，请上传常见格式的视频（如 MP4）或音频（如 MP3）"

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


#: Resolved once at import, so the child does nothing but one call between fork and exec.
_PRCTL = _load_prctl()


def _die_with_parent(parent_pid: int) -> None:
    """Runs in the child between fork and exec: SIGKILL me when the thread that started me ends.

    The kernel sends the signal when the parent *thread* exits, not only the process: every
    child is therefore started and waited for by the same thread (see media.transcode._run),
    and a worker killed with -9, or stopped by SIGTERM without a handler, takes its ffmpeg along.
    """
    _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the worker died before prctl took effect
        os._exit(1)


def child_options() -> dict:
    """Popen keyword arguments for every ffmpeg/ffprobe we start.

    Its own session, so a Ctrl-C in the worker's terminal (SIGINT to the whole foreground
    process group, or systemd's KillSignal to the control group's main process) reaches the
    worker, which stops the child itself and hands the job back; and, on Linux, a parent-death
    signal, so the child never outlives a worker killed with -9.
    """
    options: dict = {"start_new_session": True}
    if _PRCTL is not None:
        options["preexec_fn"] = functools.partial(_die_with_parent, os.getpid())
    return options


@dataclass(frozen=True)
class ProbeInfo:
    """What the ladder planner needs to know about a source; dims are as displayed."""

    duration: float
    has_video: bool
    has_audio: bool
    width: int
    height: int
    vcodec: str | None
    pix_fmt: str | None
    profile: str | None
    acodec: str | None
    audio_channels: int
    fps: float
    bit_rate: int | None
    format_name: str
    rotation: int = 0
    sar: float = 1.0
    video_bit_rate: int | None = None
    audio_profile: str | None = None
    audio_sample_rate: int | None = None

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)


def probe(path: str | os.PathLike[str]) -> ProbeInfo:
    """Describe ``path`` or raise :class:`MediaError` saying, in Chinese, why it is unusable."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaError("missing", "找不到上传的文件，请重新上传", str(exc)) from exc
    if size == 0:
        raise MediaError("empty", "文件是空的（0 字节），请重新上传")

    data = _run_ffprobe(path)
    fmt = data.get("format") or {}
    format_name = str(fmt.get("format_name") or "")
    names = set(format_name.split(","))
    codecs = {s.get("codec_name") for s in data.get("streams") or []}
    if names & REFUSED_FORMATS or codecs & TEXT_ART_CODECS or format_name == "":
        raise MediaError("not_media", NOT_MEDIA, f"format={format_name!r}")
    score = _int(fmt.get("probe_score"))
    if score is not None and score < MIN_PROBE_SCORE:
        # A weak content guess: e.g. Chinese UTF-8 text "is" headerless AMR audio at score 26.
        raise MediaError("not_media", NOT_MEDIA, f"format={format_name!r} probe_score={score}")

    streams = data.get("streams") or []
    video = _first(
        s for s in streams if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    )
    audio = _first(s for s in streams if s.get("codec_type") == "audio")
    duration = _duration(fmt, streams)

    if (
        names & IMAGE_FORMATS
        or any(n.endswith("_pipe") for n in names)
        or (
            video is not None
            and audio is None
            and video.get("codec_name") in STILL_CODECS
            and (duration is None or duration <= 0.5 or _int(video.get("nb_frames")) == 1)
        )
    ):
        raise MediaError("not_media", "这是一张图片，" + NOT_MEDIA, f"format={format_name!r}")
    if video is None and audio is None:
        raise MediaError("no_streams", "文件里既没有视频也没有音频，无法播放")
    for stream in (video, audio):
        if stream is not None and not stream.get("codec_name"):
            raise MediaError(
                "undecodable",
                "文件使用了无法识别的编码，请转换为 H.264/AAC 的 MP4 后再上传",
                f"stream={stream.get('index')}",
            )
    if duration is None or duration <= 0.05:
        raise MediaError("zero_duration", "无法读出文件时长（时长为 0 或未知），文件可能不完整")

    return _info(fmt, video, audio, duration, format_name)


def decode_check(path: str | os.PathLike[str], seconds: float = 5.0) -> None:
    """Decode the first ``seconds`` so a file that probes but cannot play fails at upload time."""
    cmd = [
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-t",
        str(seconds),
        "-i",
        _file_url(Path(path)),
        "-f",
        "null",
        "-",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, **child_options())
    except FileNotFoundError as exc:
        raise MediaError("ffmpeg_missing", "服务器未安装 ffmpeg，请联系管理员", str(exc)) from exc
    if proc.returncode != 0:
        raise MediaError("undecodable", "文件已损坏，无法解码", proc.stderr[-2000:])


def avc_codec(segment: str | os.PathLike[str]) -> str:
    """``avc1.PPCCLL`` from the first SPS in a TS segment (what players expect in CODECS)."""
    data = Path(segment).read_bytes()[:262144]
    start = data.find(b"\x00\x00\x01")
    while 0 <= start < len(data) - 6:
        if data[start + 3] & 0x1F == 7:
            return "avc1." + data[start + 4 : start + 7].hex()
        start = data.find(b"\x00\x00\x01", start + 3)
    return _avc_codec_from_ffprobe(Path(segment))


def _avc_codec_from_ffprobe(segment: Path) -> str:
    cmd = [
        FFPROBE,
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=profile,level",
        "-of",
        "default=nw=1",
        str(segment),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60, **child_options()).stdout
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    idc = {"Constrained Baseline": "42e0", "Baseline": "4200", "Main": "4d40", "High": "6400"}
    return f"avc1.{idc.get(fields.get('profile', ''), '4d40')}{int(fields.get('level') or 31):02x}"


def _run_ffprobe(path: Path) -> dict:
    cmd = [
        FFPROBE,
        "-hide_banner",
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        "-i",
        _file_url(path),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False, **child_options())
    except FileNotFoundError as exc:
        raise MediaError("ffmpeg_missing", "服务器未安装 ffprobe，请联系管理员", str(exc)) from exc
    except subprocess.TimeoutExpired as exc:
        raise MediaError("undecodable", "读取文件信息超时，文件可能已损坏", str(exc)) from exc
    if proc.returncode != 0:
        if _looks_like_media(path):
            raise MediaError(
                "undecodable", "文件已损坏或不完整（可能没有上传完），无法读取，请重新上传", proc.stderr.strip()[-2000:]
            )
        raise MediaError("not_media", NOT_MEDIA, proc.stderr.strip()[-2000:])
    try:
        return json.loads(proc.stdout or "{}")
    except ValueError as exc:
        raise MediaError("undecodable", "无法读取文件信息", proc.stdout[:500]) from exc


def _file_url(path: Path) -> str:
    """An explicit file: URL so names like ``a:b.mp4`` are never taken for a protocol."""
    return "file:" + str(path.resolve())


def _looks_like_media(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(2048)
    if head[4:8] in _MP4_BOXES or head.startswith(_MEDIA_MAGIC):
        return True
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:  # MPEG-TS sync bytes
        return True
    return len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0  # MPEG audio frame


def _first(items):
    return next(iter(items), None)


def _float(value) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(result) else result


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _duration(fmt: dict, streams: list[dict]) -> float | None:
    duration = _float(fmt.get("duration"))
    if duration is None:
        found = [d for d in (_float(s.get("duration")) for s in streams) if d is not None]
        duration = max(found) if found else None
    return duration


def _rate(text: str | None) -> float:
    try:
        value = Fraction(text or "0/0")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value)


def _fps(stream: dict) -> float:
    """Average rate, falling back to r_frame_rate; containers sometimes report 1000 fps timebases."""
    for key in ("avg_frame_rate", "r_frame_rate"):
        fps = _rate(stream.get(key))
        if 1.0 <= fps <= 240.0:
            return round(fps, 3)
    return 25.0


def _rotation(stream: dict) -> int:
    rotation = 0
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            rotation = _int(side["rotation"]) or 0
    tag = _int((stream.get("tags") or {}).get("rotate"))
    if tag is not None and rotation == 0:
        rotation = tag
    return rotation % 360


def _sar(stream: dict) -> float:
    text = (stream.get("sample_aspect_ratio") or "1:1").replace(":", "/")
    sar = _rate(text)
    return sar if 0.1 < sar < 10 else 1.0


def _info(fmt: dict, video: dict | None, audio: dict | None, duration: float, format_name: str) -> ProbeInfo:
    width = height = 0
    rotation, sar = 0, 1.0
    if video is not None:
        rotation, sar = _rotation(video), _sar(video)
        width = round((_int(video.get("width")) or 0) * sar)
        height = _int(video.get("height")) or 0
        if rotation in (90, 270):
            width, height = height, width
    return ProbeInfo(
        duration=duration,
        has_video=video is not None,
        has_audio=audio is not None,
        width=width,
        height=height,
        vcodec=video.get("codec_name") if video else None,
        pix_fmt=video.get("pix_fmt") if video else None,
        profile=video.get("profile") if video else None,
        acodec=audio.get("codec_name") if audio else None,
        audio_channels=(_int(audio.get("channels")) or 0) if audio else 0,
        fps=_fps(video) if video else 0.0,
        bit_rate=_int(fmt.get("bit_rate")),
        format_name=format_name,
        rotation=rotation,
        sar=sar,
        video_bit_rate=_int(video.get("bit_rate")) if video else None,
        audio_profile=audio.get("profile") if audio else None,
        audio_sample_rate=_int(audio.get("sample_rate")) if audio else None,
    )
