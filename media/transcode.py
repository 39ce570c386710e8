"""Turn one validated source into an HLS ladder, an MP4 fallback and a poster.

One ffmpeg process decodes the source once. A ``split`` feeds every encoded rung; the
``tee`` muxer writes the encoded streams both to the HLS muxer (``-var_stream_map``, one
MPEG-TS variant per rung plus ``master.m3u8``) and to the MP4 fallback, so the MP4 costs
no extra encode; one more split branch grabs the poster frame. Output goes to a hidden
sibling folder and is renamed into place only when complete.

Layout of ``dest_dir``::

    master.m3u8              variants with BANDWIDTH, AVERAGE-BANDWIDTH, RESOLUTION, CODECS
    1080p/index.m3u8         one folder per rung, named by its short side ("720p", ...)
    1080p/seg_00000.ts       MPEG-TS segments of ~4 s, keyframe every 2 s
    video.mp4                MP4 fallback (<= 720p, +faststart); audio.m4a for audio-only
    poster.jpg               frame at ~10 %; a drawn still for audio-only
    audio/index.m3u8         (audio-only sources instead of the rung folders)
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from media.errors import MediaError
from media.ladder import KEYFRAME_SECONDS, SEGMENT_SECONDS, TranscodePlan, plan
from media.probe import FFMPEG, ProbeInfo, avc_codec, probe

AUDIO_CODEC = "mp4a.40.2"  # AAC-LC: we only encode LC and only copy LC
POSTER = "poster.jpg"
MASTER = "master.m3u8"
POSTER_COLOR, BAR_COLOR = "0x9E1B1B", "0xF2C14E"  # Party red, gold

ProgressFn = Callable[[float, "float | None"], None]


@dataclass(frozen=True)
class Rendition:
    """One variant as written to the master playlist; ``playlist`` is relative to dest_dir."""

    name: str
    width: int
    height: int
    bandwidth: int
    average_bandwidth: int
    codecs: str
    playlist: str
    copied: bool = False


@dataclass(frozen=True)
class TranscodeResult:
    """Where everything ended up; ``mp4`` is ``video.mp4`` or, for audio-only, ``audio.m4a``."""

    dest_dir: Path
    master: Path
    renditions: tuple[Rendition, ...]
    mp4: Path
    poster: Path
    duration: float
    fast_path: bool
    audio_only: bool
    has_audio: bool
    command: tuple[str, ...]


def transcode(src: str | os.PathLike[str], dest_dir: str | os.PathLike[str], *,
              on_progress: ProgressFn | None = None, should_cancel: Callable[[], bool] | None = None,
              workdir: str | os.PathLike[str] | None = None, allow_remux: bool = True,
              info: ProbeInfo | None = None) -> TranscodeResult:
    """Transcode ``src`` into ``dest_dir``, which appears complete or not at all.

    ``workdir`` holds the temporary folder (default: dest_dir's parent, so the final
    rename is atomic). ``should_cancel`` is polled a few times a second; ``on_progress``
    gets (percent, speed). Raises :class:`MediaError` ("cancelled", "ffmpeg_failed", or a
    probe code when ``info`` is not given and the source is unusable).
    """
    src, dest = Path(src).resolve(), Path(dest_dir).resolve()
    info = info or probe(src)
    the_plan = plan(info, allow_remux=allow_remux)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=workdir or dest.parent))
    try:
        args = build_args(src, tmp, the_plan)
        _run(args, the_plan.duration, on_progress, should_cancel)
        if not the_plan.audio_only and not _nonempty(tmp / POSTER):
            _fallback_poster(src, tmp / POSTER, the_plan)
        renditions, duration = _finish_master(tmp, the_plan)
        _check_complete(tmp, the_plan, duration)
        _install(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if on_progress:
        on_progress(100.0, None)
    return TranscodeResult(
        dest_dir=dest, master=dest / MASTER, renditions=renditions, mp4=dest / _fallback_name(the_plan),
        poster=dest / POSTER, duration=duration, fast_path=the_plan.fast_path,
        audio_only=the_plan.audio_only, has_audio=the_plan.has_audio, command=tuple(args))


def build_args(src: str | os.PathLike[str], tmp_dir: str | os.PathLike[str],
               plan: TranscodePlan) -> list[str]:
    """The complete ffmpeg command line (argv list) that writes ``plan`` into ``tmp_dir``."""
    tmp = Path(tmp_dir).resolve()
    if "%" in str(tmp):
        raise ValueError(f"output folder must not contain '%': {tmp}")
    inp = ffmpeg.input("file:" + str(Path(src).resolve()), protocol_whitelist="file")
    opts: dict[str, object] = {"f": "tee", "flags": "+global_header", "map_metadata": -1, "map_chapters": -1,
                               "max_muxing_queue_size": 1024}
    audio = _audio_streams(inp, plan, max(1, len(plan.rungs)), opts)

    if plan.audio_only:
        video: list = []
        variants = ["a:0,name:audio"]
        fallback_select, fallback_format = "a:0", "ipod"
        poster = _drawn_poster(plan)
    else:
        video, poster = _video_streams(inp, plan, opts)
        variants = [f"v:{i},a:{i},name:{r.name}" if plan.has_audio else f"v:{i},name:{r.name}"
                    for i, r in enumerate(plan.rungs)]
        k = plan.mp4_index
        fallback_select = f"v:{k},a:{k}" if plan.has_audio else f"v:{k}"
        fallback_format = "mp4"

    hls = _slave({"f": "hls", "onfail": "abort", "hls_time": str(SEGMENT_SECONDS), "hls_playlist_type": "vod",
                  "hls_segment_type": "mpegts", "master_pl_name": MASTER, "var_stream_map": " ".join(variants),
                  "hls_segment_filename": f"{tmp}/%v/seg_%05d.ts"}, f"{tmp}/%v/index.m3u8")
    mp4 = _slave({"f": fallback_format, "onfail": "abort", "movflags": "+faststart", "select": fallback_select},
                 str(tmp / _fallback_name(plan)))
    outputs = [ffmpeg.output(*video, *audio, f"{hls}|{mp4}", **opts),
               ffmpeg.output(poster, str(tmp / POSTER), **{"frames:v": 1, "update": 1, "q:v": 3, "f": "image2"})]
    return ffmpeg.merge_outputs(*outputs).global_args(
        "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats",
    ).compile(cmd=FFMPEG)


def _fallback_name(plan: TranscodePlan) -> str:
    return "audio.m4a" if plan.audio_only else "video.mp4"


def _audio_streams(inp, plan: TranscodePlan, count: int, opts: dict) -> list:
    """One AAC stream per variant (HLS cannot share a stream between variants)."""
    if not plan.has_audio:
        return []
    if plan.copy_audio:
        opts.update({f"{key}:a:{i}": value for i in range(count) for key, value in (("c", "copy"), ("tag", "mp4a"))})
        return [inp["a:0"]] * count
    for i in range(count):
        opts.update({f"c:a:{i}": "aac", f"b:a:{i}": plan.audio_bitrate})
    chain = inp["a:0"].filter("aformat", sample_fmts="fltp", sample_rates=48000, channel_layouts="stereo")
    if count == 1:
        return [chain]
    split = chain.filter_multi_output("asplit", count)
    return [split[i] for i in range(count)]


def _video_streams(inp, plan: TranscodePlan, opts: dict) -> tuple[list, object]:
    """Scale once to the top encoded rung, split from there; copy rungs map the source."""
    source = inp["V:0"]
    if plan.fps_filter:
        source = source.filter("fps", fps=plan.fps_filter)
    encoded = [(i, r) for i, r in enumerate(plan.rungs) if not r.copy]
    poster_from_source = plan.fast_path or not encoded
    to_scale = poster_in = source
    if poster_from_source and encoded:
        split = source.filter_multi_output("split", 2)
        to_scale, poster_in = split[0], split[1]

    streams: dict[int, object] = {}
    if encoded:
        top = encoded[0][1]
        scaled = to_scale.filter("scale", top.width, top.height).filter("setsar", 1).filter("format", "yuv420p")
        branches = len(encoded) + (0 if poster_from_source else 1)
        parts = scaled.filter_multi_output("split", branches) if branches > 1 else None
        pick = (lambda n: parts[n]) if parts else (lambda n: scaled)
        for n, (i, r) in enumerate(encoded):
            streams[i] = pick(n) if n == 0 else pick(n).filter("scale", r.width, r.height).filter("setsar", 1)
        if not poster_from_source:
            poster_in = pick(branches - 1)

    key_expr = f"expr:gte(t,n_forced*{KEYFRAME_SECONDS})"
    for i, r in enumerate(plan.rungs):
        if r.copy:  # tee passes the source's codec tag on (e.g. MPEG-TS 0x1b); MP4 wants avc1
            streams[i] = inp["V:0"]
            opts.update({f"c:v:{i}": "copy", f"tag:v:{i}": "avc1"})
            continue
        opts.update({f"c:v:{i}": "libx264", f"preset:v:{i}": plan.preset, f"profile:v:{i}": "main",
                     f"crf:v:{i}": plan.crf, f"maxrate:v:{i}": r.video_bitrate, f"bufsize:v:{i}": r.bufsize,
                     f"g:v:{i}": plan.gop, f"keyint_min:v:{i}": plan.gop, f"sc_threshold:v:{i}": 0,
                     f"force_key_frames:v:{i}": key_expr})

    width, height = plan.poster_size
    poster = (poster_in.filter("setpts", "PTS-STARTPTS").filter("trim", start=plan.poster_time)
              .filter("trim", end_frame=1).filter("scale", width, height).filter("setsar", 1)
              .filter("format", "yuvj420p"))
    return [streams[i] for i in range(len(plan.rungs))], poster


def _drawn_poster(plan: TranscodePlan):
    """A red card with a gold base line and five 'sound' bars; no fonts needed."""
    width, height = plan.poster_size
    card = ffmpeg.input(f"color=c={POSTER_COLOR}:s={width}x{height}:r=1:d=1", f="lavfi")
    card = card.filter("drawbox", x=0, y="ih*0.82", w="iw", h="ih*0.03", color=BAR_COLOR, t="fill")
    for n, share in enumerate((0.18, 0.32, 0.46, 0.32, 0.18)):
        card = card.filter("drawbox", x=f"iw*{0.38 + n * 0.05:.2f}", y=f"ih*{0.5 - share / 2:.3f}",
                           w="iw*0.03", h=f"ih*{share}", color=BAR_COLOR, t="fill")
    return card.filter("format", "yuvj420p")


def _escape(text: str, specials: str) -> str:
    return "".join("\\" + c if c in specials or c.isspace() else c for c in text)


def _slave(options: dict[str, str], filename: str) -> str:
    """One tee slave, escaped for both of tee's parsing levels (values, then the list)."""
    inner = ":".join(f"{k}={_escape(v, chr(92) + ':]' + chr(39))}" for k, v in options.items())
    return _escape(f"[{inner}]{filename}", chr(92) + "|" + chr(39))


def _run(args: list[str], duration: float, on_progress: ProgressFn | None,
         should_cancel: Callable[[], bool] | None) -> None:
    """Run ffmpeg, relay ``-progress`` output, kill it on cancel or on our own errors."""
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, encoding="utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise MediaError("ffmpeg_missing", "服务器未安装 ffmpeg，请联系管理员", str(exc)) from exc
    lines: queue.Queue[str | None] = queue.Queue()
    tail: deque[str] = deque(maxlen=40)
    readers = [threading.Thread(target=_pump, args=(proc.stdout, lines.put, lines.put), daemon=True),
               threading.Thread(target=_pump, args=(proc.stderr, tail.append, None), daemon=True)]
    for reader in readers:
        reader.start()
    cancelled, ended, block, next_poll = False, False, {}, 0.0
    try:
        while True:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                line = ""
            if line is None:
                ended = True
                break
            key, _, value = line.strip().partition("=")
            block[key] = value
            if key == "progress" and on_progress:
                on_progress(*_progress(block, duration))
            if should_cancel and time.monotonic() >= next_poll:
                next_poll = time.monotonic() + 0.25
                if should_cancel():
                    cancelled = True
                    break
    finally:
        if not ended and proc.poll() is None:
            proc.kill()
        proc.wait()
        for reader in readers:
            reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    if cancelled:
        raise MediaError("cancelled", "转码已取消")
    if proc.returncode != 0:
        detail = "\n".join(line.rstrip() for line in tail)
        how = "被系统强行结束" if proc.returncode < 0 else f"退出码 {proc.returncode}"
        raise MediaError("ffmpeg_failed", f"转码失败（ffmpeg {how}），请查看任务日志，或转换格式后重新上传", detail)


def _pump(stream, sink: Callable, end: Callable | None) -> None:
    for line in stream:
        sink(line)
    if end is not None:
        end(None)


def _progress(block: dict[str, str], duration: float) -> tuple[float, float | None]:
    try:
        seconds = int(block.get("out_time_us", "0")) / 1e6
    except ValueError:
        seconds = 0.0
    percent = 100.0 if block.get("progress") == "end" else seconds / duration * 100 if duration else 0
    try:
        speed: float | None = float(block.get("speed", "").rstrip("x"))
    except ValueError:
        speed = None
    return max(0.0, min(100.0, percent)), speed


def _nonempty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _fallback_poster(src: Path, target: Path, plan: TranscodePlan) -> None:
    """The in-graph poster got no frame (duration overstated): take the first frame instead."""
    width, height = plan.poster_size
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-protocol_whitelist",
           "file", "-i", "file:" + str(src), "-frames:v", "1", "-vf",
           f"scale={width}:{height},setsar=1,format=yuvj420p", "-q:v", "3", "-update", "1", str(target)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0 or not _nonempty(target):
        raise MediaError("ffmpeg_failed", "无法生成封面图，视频可能已损坏", proc.stderr[-2000:])


def _segments(playlist: Path) -> list[tuple[float, Path]]:
    """(EXTINF duration, segment path) pairs of a media playlist."""
    result, extinf = [], None
    for line in playlist.read_text(encoding="utf-8").splitlines():
        if line.startswith("#EXTINF:"):
            extinf = float(line[8:].split(",")[0])
        elif line and not line.startswith("#") and extinf is not None:
            result.append((extinf, playlist.parent / line))
            extinf = None
    return result


def _finish_master(tmp: Path, plan: TranscodePlan) -> tuple[tuple[Rendition, ...], float]:
    """Fill in CODECS where ffmpeg left it out (copied streams) and measured bandwidths."""
    master = tmp / MASTER
    if not master.is_file():
        raise MediaError("ffmpeg_failed", "转码结果不完整：缺少主播放列表", str(master))
    lines = [line for line in master.read_text(encoding="utf-8").splitlines() if line.strip()]
    out, renditions, durations = ["#EXTM3U"], [], []
    rungs = {r.name: r for r in plan.rungs}
    for n, line in enumerate(lines):
        if not line.startswith("#EXT-X-STREAM-INF:"):
            if line.startswith("#EXT-X-VERSION"):
                out.append(line)
            continue
        uri = lines[n + 1]
        attrs = _attributes(line.split(":", 1)[1])
        segments = _segments(tmp / uri)
        if not segments:
            raise MediaError("ffmpeg_failed", "转码结果不完整：没有生成视频分片", uri)
        total = sum(d for d, _ in segments)
        size = sum(p.stat().st_size for _, p in segments)
        full = [(d, p) for d, p in segments if d >= 1.0] or segments
        peak = max(p.stat().st_size * 8 / max(d, 0.001) for d, p in full)
        bandwidth = max(int(attrs.get("BANDWIDTH", 0)), int(peak))
        rung = rungs.get(uri.split("/")[0])
        codecs = attrs.get("CODECS", "").strip('"')
        if not codecs:
            codecs = ",".join(([avc_codec(segments[0][1])] if rung else [])
                              + ([AUDIO_CODEC] if plan.has_audio else []))
        attrs.update({"BANDWIDTH": str(bandwidth), "AVERAGE-BANDWIDTH": str(int(size * 8 / total)),
                      "CODECS": f'"{codecs}"'})
        if rung:
            attrs["RESOLUTION"] = f"{rung.width}x{rung.height}"
        out += ["#EXT-X-STREAM-INF:" + ",".join(f"{k}={v}" for k, v in attrs.items()), uri]
        renditions.append(Rendition(
            name=uri.split("/")[0], width=rung.width if rung else 0,
            height=rung.height if rung else 0, bandwidth=bandwidth,
            average_bandwidth=int(attrs["AVERAGE-BANDWIDTH"]), codecs=codecs, playlist=uri,
            copied=bool(rung and rung.copy)))
        durations.append(total)
    master.write_text("\n".join(out) + "\n", encoding="utf-8")
    return tuple(renditions), max(durations, default=0.0)


def _attributes(text: str) -> dict[str, str]:
    """Parse ``A=1,B="x,y"`` keeping quoted commas (CODECS has them)."""
    return dict(re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', text))


def _check_complete(tmp: Path, plan: TranscodePlan, duration: float) -> None:
    """A source whose data stops early (cut-off upload with an intact index) must not pass."""
    for name in (_fallback_name(plan), POSTER):
        if not _nonempty(tmp / name):
            raise MediaError("ffmpeg_failed", f"转码结果不完整：缺少 {name}", str(tmp / name))
    if duration < plan.duration * 0.9 - 1.0:
        raise MediaError("undecodable",
                         f"文件已损坏或不完整：只能解码 {duration:.0f} 秒，应有 {plan.duration:.0f} 秒",
                         f"decoded={duration:.2f}s expected={plan.duration:.2f}s")


def _install(tmp: Path, dest: Path) -> None:
    """Rename the finished folder into place; an older version is swapped out, then removed."""
    staged, old = tmp, None
    try:
        if os.stat(tmp).st_dev != os.stat(dest.parent).st_dev:  # workdir on another disk
            staged = dest.with_name(f".{dest.name}.partial-{os.getpid()}-{time.monotonic_ns()}")
            shutil.copytree(tmp, staged)
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}-{time.monotonic_ns()}")
            os.replace(dest, old)
        os.replace(staged, dest)
    except BaseException:
        if old is not None and not dest.exists():
            os.replace(old, dest)
        if staged != tmp:
            shutil.rmtree(staged, ignore_errors=True)
        raise
    if staged != tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
