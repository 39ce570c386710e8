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

Fast path in two phases (``two_phase(plan)``): a source that is already H.264/AAC and at most
720p is first remuxed alone — :func:`first_phase` copies it into the top rung and the MP4 and
cuts a poster, no encoding, so it can be published within seconds — and :func:`second_phase`
then encodes only the lower rungs into a new folder that hard-links the first folder's files
under the same names and lists every rung in its master playlist. :func:`transcode` still
makes everything in one go (tests, benchmark, callers that do not publish in between).

Every ffmpeg runs in its own session and dies with the thread that started it
(:func:`media.probe.child_options`). Published folders are world-readable (0755/0644) so a
web server running as another user can send the files.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import ffmpeg

from media.errors import MediaError
from media.ladder import KEYFRAME_SECONDS, SEGMENT_SECONDS, TranscodePlan, plan
from media.probe import FFMPEG, ProbeInfo, avc_codec, child_options, probe

AUDIO_CODEC = "mp4a.40.2"  # AAC-LC: we only encode LC and only copy LC
POSTER = "poster.jpg"
MASTER = "master.m3u8"
POSTER_COLOR, BAR_COLOR = "0x9E1B1B", "0xF2C14E"  # Party red, gold
DIR_MODE, FILE_MODE = 0o755, 0o644  # published output: readable by a web server running as another user
#: ffmpeg's exit status after it caught SIGINT/SIGTERM and stopped early (it then still
#: prints "progress=end" and closes its files, which look complete but are cut short).
FFMPEG_SIGNAL_EXIT = 255
NO_SPACE = "No space left on device"
DISK_FULL_REASON = "服务器磁盘空间不足，无法写入转码结果。请管理员清理磁盘空间后点击“重新转码”"

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


def transcode(
    src: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    *,
    on_progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    allow_remux: bool = True,
    info: ProbeInfo | None = None,
) -> TranscodeResult:
    """Transcode ``src`` into ``dest_dir``, which appears complete or not at all.

    ``workdir`` holds the temporary folder (default: dest_dir's parent, so the final
    rename is atomic). ``should_cancel`` is polled a few times a second; ``on_progress``
    gets (percent, speed). Raises :class:`MediaError` ("cancelled", "ffmpeg_failed", or a
    probe code when ``info`` is not given and the source is unusable).
    """
    info = info or probe(src)
    the_plan = plan(info, allow_remux=allow_remux)
    return _produce(src, dest_dir, the_plan, the_plan, None, on_progress, should_cancel, workdir)


def two_phase(the_plan: TranscodePlan) -> bool:
    """True when the plan copies its top rung and has lower rungs to encode (publish twice)."""
    return the_plan.fast_path and len(the_plan.rungs) > 1 and the_plan.rungs[0].copy


def first_phase(
    src: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    the_plan: TranscodePlan,
    *,
    on_progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
    workdir: str | os.PathLike[str] | None = None,
) -> TranscodeResult:
    """Phase 1 of a :func:`two_phase` plan: the copied top rung, the MP4 and the poster, no encode."""
    part = replace(the_plan, rungs=the_plan.rungs[:1], mp4_index=0)
    return _produce(src, dest_dir, part, part, None, on_progress, should_cancel, workdir)


def second_phase(
    src: str | os.PathLike[str],
    first_dir: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    the_plan: TranscodePlan,
    *,
    on_progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
    workdir: str | os.PathLike[str] | None = None,
) -> TranscodeResult:
    """Phase 2: encode the lower rungs; ``dest_dir`` also gets phase 1's files (hard links, same
    names) and a master playlist listing every rung. ``first_dir`` is left as it is."""
    part = replace(the_plan, rungs=the_plan.rungs[1:], mp4_index=None)
    return _produce(src, dest_dir, the_plan, part, Path(first_dir).resolve(), on_progress, should_cancel, workdir)


def _produce(
    src,
    dest_dir,
    whole: TranscodePlan,
    part: TranscodePlan,
    base: Path | None,
    on_progress: ProgressFn | None,
    should_cancel: Callable[[], bool] | None,
    workdir,
) -> TranscodeResult:
    """Run ffmpeg for ``part`` of ``whole`` in a temp folder, add ``base``'s files, move it into place."""
    src, dest = Path(src).resolve(), Path(dest_dir).resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=workdir or dest.parent))
    try:
        args = build_args(src, tmp, part, mp4=base is None, poster=base is None)
        _run(args, part.duration, on_progress, should_cancel)
        if base is None and not part.audio_only and not _nonempty(tmp / POSTER):
            _source_poster(src, tmp / POSTER, part)
        if base is not None:
            _link_files(base, tmp)
            _merge_masters(base / MASTER, tmp / MASTER)
        renditions, duration = _finish_master(tmp, whole)
        _check_complete(tmp, whole, duration)
        _make_readable(tmp)
        _install(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if on_progress:
        on_progress(100.0, None)
    return TranscodeResult(
        dest_dir=dest,
        master=dest / MASTER,
        renditions=renditions,
        mp4=dest / _fallback_name(whole),
        poster=dest / POSTER,
        duration=duration,
        fast_path=whole.fast_path,
        audio_only=whole.audio_only,
        has_audio=whole.has_audio,
        command=tuple(args),
    )


def build_args(
    src: str | os.PathLike[str],
    tmp_dir: str | os.PathLike[str],
    plan: TranscodePlan,
    *,
    mp4: bool = True,
    poster: bool = True,
) -> list[str]:
    """The complete ffmpeg command line (argv list) that writes ``plan`` into ``tmp_dir``.

    ``mp4``/``poster`` False leave out the fallback file and the poster (phase 2). A fast-path
    plan never draws its poster here: the caller cuts it with a seek (:func:`_source_poster`),
    because decoding a copied source for one frame would cost as much as the rest of the run.
    """
    tmp = Path(tmp_dir).resolve()
    if "%" in str(tmp):
        raise ValueError(f"output folder must not contain '%': {tmp}")
    inp = ffmpeg.input("file:" + str(Path(src).resolve()), protocol_whitelist="file")
    opts: dict[str, object] = {
        "f": "tee",
        "flags": "+global_header",
        "map_metadata": -1,
        "map_chapters": -1,
        "max_muxing_queue_size": 1024,
    }
    audio = _audio_streams(inp, plan, max(1, len(plan.rungs)), opts)

    if plan.audio_only:
        video: list = []
        variants = ["a:0,name:audio"]
        fallback_select, fallback_format = "a:0", "ipod"
        poster_stream = _drawn_poster(plan) if poster else None
    else:
        video, poster_stream = _video_streams(inp, plan, opts, poster and not plan.fast_path)
        variants = [
            f"v:{i},a:{i},name:{r.name}" if plan.has_audio else f"v:{i},name:{r.name}" for i, r in enumerate(plan.rungs)
        ]
        k = plan.mp4_index
        fallback_select = f"v:{k},a:{k}" if plan.has_audio else f"v:{k}"
        fallback_format = "mp4"

    slaves = [
        _slave(
            {
                "f": "hls",
                "onfail": "abort",
                "hls_time": str(SEGMENT_SECONDS),
                "hls_playlist_type": "vod",
                "hls_segment_type": "mpegts",
                "master_pl_name": MASTER,
                "var_stream_map": " ".join(variants),
                "hls_segment_filename": f"{tmp}/%v/seg_%05d.ts",
            },
            f"{tmp}/%v/index.m3u8",
        )
    ]
    if mp4:
        slaves.append(
            _slave(
                {"f": fallback_format, "onfail": "abort", "movflags": "+faststart", "select": fallback_select},
                str(tmp / _fallback_name(plan)),
            )
        )
    outputs = [ffmpeg.output(*video, *audio, "|".join(slaves), **opts)]
    if poster_stream is not None:
        outputs.append(
            ffmpeg.output(poster_stream, str(tmp / POSTER), **{"frames:v": 1, "update": 1, "q:v": 3, "f": "image2"})
        )
    return (
        ffmpeg.merge_outputs(*outputs)
        .global_args(
            "-hide_banner",
            "-nostdin",
            "-y",
            "-loglevel",
            "error",
            "-progress",
            "pipe:1",
            "-nostats",
        )
        .compile(cmd=FFMPEG)
    )


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


def _video_streams(inp, plan: TranscodePlan, opts: dict, poster: bool) -> tuple[list, object | None]:
    """Scale once to the top encoded rung, split from there; copy rungs map the source.

    The poster (when ``poster``) is one more branch of the top encoded rung's split.
    """
    source = inp["V:0"]
    if plan.fps_filter:
        source = source.filter("fps", fps=plan.fps_filter)
    encoded = [(i, r) for i, r in enumerate(plan.rungs) if not r.copy]
    poster = poster and bool(encoded)
    poster_in = None

    streams: dict[int, object] = {}
    if encoded:
        top = encoded[0][1]
        scaled = source.filter("scale", top.width, top.height).filter("setsar", 1).filter("format", "yuv420p")
        branches = len(encoded) + (1 if poster else 0)
        parts = scaled.filter_multi_output("split", branches) if branches > 1 else None
        pick = (lambda n: parts[n]) if parts else (lambda n: scaled)
        for n, (i, r) in enumerate(encoded):
            streams[i] = pick(n) if n == 0 else pick(n).filter("scale", r.width, r.height).filter("setsar", 1)
        if poster:
            poster_in = pick(branches - 1)

    key_expr = f"expr:gte(t,n_forced*{KEYFRAME_SECONDS})"
    for i, r in enumerate(plan.rungs):
        if r.copy:  # tee passes the source's codec tag on (e.g. MPEG-TS 0x1b); MP4 wants avc1
            streams[i] = inp["V:0"]
            opts.update({f"c:v:{i}": "copy", f"tag:v:{i}": "avc1"})
            continue
        opts.update(
            {
                f"c:v:{i}": "libx264",
                f"preset:v:{i}": plan.preset,
                f"profile:v:{i}": "main",
                f"crf:v:{i}": plan.crf,
                f"maxrate:v:{i}": r.video_bitrate,
                f"bufsize:v:{i}": r.bufsize,
                f"g:v:{i}": plan.gop,
                f"keyint_min:v:{i}": plan.gop,
                f"sc_threshold:v:{i}": 0,
                f"force_key_frames:v:{i}": key_expr,
            }
        )

    if poster_in is None:
        return [streams[i] for i in range(len(plan.rungs))], None
    width, height = plan.poster_size
    poster_stream = (
        poster_in.filter("setpts", "PTS-STARTPTS")
        .filter("trim", start=plan.poster_time)
        .filter("trim", end_frame=1)
        .filter("scale", width, height)
        .filter("setsar", 1)
        .filter("format", "yuvj420p")
    )
    return [streams[i] for i in range(len(plan.rungs))], poster_stream


def _drawn_poster(plan: TranscodePlan):
    """A red card with a gold base line and five 'sound' bars; no fonts needed."""
    width, height = plan.poster_size
    card = ffmpeg.input(f"color=c={POSTER_COLOR}:s={width}x{height}:r=1:d=1", f="lavfi")
    card = card.filter("drawbox", x=0, y="ih*0.82", w="iw", h="ih*0.03", color=BAR_COLOR, t="fill")
    for n, share in enumerate((0.18, 0.32, 0.46, 0.32, 0.18)):
        card = card.filter(
            "drawbox",
            x=f"iw*{0.38 + n * 0.05:.2f}",
            y=f"ih*{0.5 - share / 2:.3f}",
            w="iw*0.03",
            h=f"ih*{share}",
            color=BAR_COLOR,
            t="fill",
        )
    return card.filter("format", "yuvj420p")


def _escape(text: str, specials: str) -> str:
    return "".join("\\" + c if c in specials or c.isspace() else c for c in text)


def _slave(options: dict[str, str], filename: str) -> str:
    """One tee slave, escaped for both of tee's parsing levels (values, then the list)."""
    inner = ":".join(f"{k}={_escape(v, chr(92) + ':]' + chr(39))}" for k, v in options.items())
    return _escape(f"[{inner}]{filename}", chr(92) + "|" + chr(39))


def _run(
    args: list[str], duration: float, on_progress: ProgressFn | None, should_cancel: Callable[[], bool] | None
) -> None:
    """Run ffmpeg, relay ``-progress`` output, kill it on cancel or on our own errors."""
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            **child_options(),
        )
    except FileNotFoundError as exc:
        raise MediaError("ffmpeg_missing", "服务器未安装 ffmpeg，请联系管理员", str(exc)) from exc
    lines: queue.Queue[str | None] = queue.Queue()
    tail: deque[str] = deque(maxlen=40)
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, lines.put, lines.put), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, tail.append, None), daemon=True),
    ]
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
            if key == "progress" and on_progress and value != "end":
                # "end" is also printed by an ffmpeg stopped by a signal: 100 % only once it exited 0
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
        raise ffmpeg_error(proc.returncode, "\n".join(line.rstrip() for line in tail))


def ffmpeg_error(returncode: int, detail: str) -> MediaError:
    """Why ffmpeg failed: a full disk, a signal (worth another attempt), or the file itself.

    Codes: "disk_full" (the admin frees space and retries), "ffmpeg_killed" (killed by a
    signal — the OOM killer, an admin — or stopped early by SIGINT/SIGTERM: exit 255), and
    "ffmpeg_failed" (anything else; usually the source).
    """
    if NO_SPACE in detail:
        return MediaError("disk_full", DISK_FULL_REASON, detail)
    if returncode < 0 or returncode == FFMPEG_SIGNAL_EXIT:
        if returncode < 0:
            try:
                name = signal.Signals(-returncode).name
            except ValueError:
                name = f"signal {-returncode}"
            how, note = f"被系统强行结束（{name}）", f"killed by {name}"
        else:
            how, note = "收到停止信号后退出", f"exit {returncode} (stopped by a signal)"
        return MediaError(
            "ffmpeg_killed",
            f"转码进程中断（ffmpeg {how}），可能是服务器内存不足或被管理员结束",
            f"{note}\n{detail}".rstrip(),
        )
    return MediaError(
        "ffmpeg_failed", f"转码失败（ffmpeg 退出码 {returncode}），请查看任务日志，或转换格式后重新上传", detail
    )


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


def _source_poster(src: Path, target: Path, plan: TranscodePlan) -> None:
    """Cut the poster with a seek to ``poster_time`` (decodes one GOP, not the file); the first
    frame when that gives nothing (duration overstated, or no in-graph poster got a frame)."""
    width, height = plan.poster_size
    proc = None
    for seek in ([plan.poster_time] if plan.poster_time > 0 else []) + [None]:
        cmd = [FFMPEG, "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
        if seek is not None:
            cmd += ["-ss", f"{seek:.3f}"]
        cmd += [
            "-protocol_whitelist",
            "file",
            "-i",
            "file:" + str(src),
            "-frames:v",
            "1",
            "-vf",
            f"scale={width}:{height},setsar=1,format=yuvj420p",
            "-q:v",
            "3",
            "-update",
            "1",
            "-f",
            "image2",
            str(target),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120, **child_options())
        if proc.returncode == 0 and _nonempty(target):
            return
        if proc.returncode < 0 or proc.returncode == FFMPEG_SIGNAL_EXIT or NO_SPACE in proc.stderr:
            raise ffmpeg_error(proc.returncode, proc.stderr[-2000:])
    raise MediaError("ffmpeg_failed", "无法生成封面图，视频可能已损坏", proc.stderr[-2000:] if proc else "")


def _link_files(base: Path, tmp: Path) -> None:
    """Phase 1's files (rung folder, MP4, poster) into the phase-2 folder under the same names:
    hard links, so they cost no space and stay when the phase-1 folder is removed."""
    for entry in base.iterdir():
        if entry.name == MASTER:
            continue
        if entry.is_dir():
            shutil.copytree(entry, tmp / entry.name, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, tmp / entry.name)


def _link_or_copy(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links, or another device
        shutil.copy2(source, target)


def _variants(master: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """(#EXT-X-VERSION lines, [(#EXT-X-STREAM-INF line, uri)]) of a master playlist."""
    lines = [line for line in master.read_text(encoding="utf-8").splitlines() if line.strip()]
    versions = [line for line in lines if line.startswith("#EXT-X-VERSION")]
    pairs = [
        (line, lines[n + 1])
        for n, line in enumerate(lines)
        if line.startswith("#EXT-X-STREAM-INF:") and n + 1 < len(lines)
    ]
    return versions, pairs


def _merge_masters(first: Path, second: Path) -> None:
    """Rewrite ``second`` to list ``first``'s variants (the copied top rung) before its own."""
    if not second.is_file():
        raise MediaError("ffmpeg_failed", "转码结果不完整：缺少主播放列表", str(second))
    first_versions, first_pairs = _variants(first)
    second_versions, second_pairs = _variants(second)
    version = max(first_versions + second_versions, key=lambda line: int(line.split(":", 1)[1]), default=None)
    out = ["#EXTM3U"] + ([version] if version else [])
    for tag, uri in first_pairs + second_pairs:
        out += [tag, uri]
    second.write_text("\n".join(out) + "\n", encoding="utf-8")


def _make_readable(folder: Path) -> None:
    """mkdtemp made the folder 0700 and ffmpeg follows the umask: open it up for the web server."""
    os.chmod(folder, DIR_MODE)
    for dirpath, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(dirpath, name), DIR_MODE)
        for name in files:
            os.chmod(os.path.join(dirpath, name), FILE_MODE)


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
            codecs = ",".join(([avc_codec(segments[0][1])] if rung else []) + ([AUDIO_CODEC] if plan.has_audio else []))
        attrs.update(
            {"BANDWIDTH": str(bandwidth), "AVERAGE-BANDWIDTH": str(int(size * 8 / total)), "CODECS": f'"{codecs}"'}
        )
        if rung:
            attrs["RESOLUTION"] = f"{rung.width}x{rung.height}"
        out += ["#EXT-X-STREAM-INF:" + ",".join(f"{k}={v}" for k, v in attrs.items()), uri]
        renditions.append(
            Rendition(
                name=uri.split("/")[0],
                width=rung.width if rung else 0,
                height=rung.height if rung else 0,
                bandwidth=bandwidth,
                average_bandwidth=int(attrs["AVERAGE-BANDWIDTH"]),
                codecs=codecs,
                playlist=uri,
                copied=bool(rung and rung.copy),
            )
        )
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
        raise MediaError(
            "undecodable",
            f"文件已损坏或不完整：只能解码 {duration:.0f} 秒，应有 {plan.duration:.0f} 秒",
            f"decoded={duration:.2f}s expected={plan.duration:.2f}s",
        )


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
