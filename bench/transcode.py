"""Transcode benchmark: our pipeline against hand-written ffmpeg commands, side by side.

Run from the repository root: ``python bench/transcode.py`` (``BENCH_SECONDS=10`` for a
quick smoke run). Prints one figure per line on stdout; progress notes go to stderr.

- pipeline_vs_bare_ffmpeg: transcode() against one hand-written ffmpeg command making the
  same ladder, MP4 and poster (goal <= 1.05): the Python layer must cost next to nothing.
- pipeline_vs_per_rendition: against one ffmpeg process per rung, each decoding the source
  itself, the way PeerTube does it (goal <= 0.90 CPU).
- remux_fast_path_vs_full: time to first playable of a 720p H.264/AAC source — probe, decode
  check and phase 1 of the fast path (remux into the copied 720p rung + MP4 + poster, which the
  worker publishes at once) — against the same source fully re-encoded (goal <= 0.15). The
  second phase (480p/360p added later) is timed once and reported on stderr.
- realtime_factor: source seconds per wall-clock second for the 1080p ladder.

Each side runs BENCH_REPEAT times (default 2), alternating, and its best run counts.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media.ladder import X264_PRESET, plan  # noqa: E402
from media.probe import decode_check, probe  # noqa: E402
from media.transcode import TranscodeResult, first_phase, second_phase, transcode, two_phase  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))
#: Each side runs this many times, alternating, and the best run counts: the machine may be
#: shared, and the best run is the one least disturbed by others.
REPEAT = int(os.environ.get("BENCH_REPEAT", "2"))
FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
# (name, width, height, maxrate kbit/s) of the 1080p ladder, as media.ladder plans it at 25 fps
LADDER = [("1080p", 1920, 1080, 5000), ("720p", 1280, 720, 2800), ("480p", 854, 480, 1400), ("360p", 640, 360, 800)]
X264 = [
    "-preset",
    X264_PRESET,
    "-profile:v",
    "main",
    "-crf",
    "23",
    "-g",
    "50",
    "-keyint_min",
    "50",
    "-sc_threshold",
    "0",
    "-force_key_frames",
    "expr:gte(t,n_forced*2)",
]
AAC = ["-c:a", "aac", "-b:a", "128k"]


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(run: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds and child CPU seconds (user + sys) of ``run``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_of(runs: dict[str, Callable[[Path], object]], root: Path) -> dict[str, tuple[float, float]]:
    """Run each entry REPEAT times, alternating between them; best wall and best CPU of each."""
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for attempt in range(REPEAT):
        for name, run in runs.items():
            note(f"  {name} #{attempt + 1} ...")
            out = root / f"{name}-{attempt}"
            results[name].append(measure(lambda run=run, out=out: run(out)))
    return {name: (min(w for w, _ in found), min(c for _, c in found)) for name, found in results.items()}


def generate(path: Path, width: int, height: int, crf: int) -> Path:
    subprocess.run(
        [
            *FFMPEG,
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={width}x{height}:rate=25:duration={SECONDS}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=48000:duration={SECONDS}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            str(crf),
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-ac",
            "2",
            str(path),
        ],
        check=True,
    )
    return path


def bare_ffmpeg(src: Path, out: Path) -> None:
    """The whole ladder + MP4 + poster in one ffmpeg command, written out by hand."""
    out.mkdir()
    poster_at = round(SECONDS * 0.1, 3)
    subprocess.run(
        [
            *FFMPEG,
            "-i",
            str(src),
            "-filter_complex",
            "[0:v]scale=1920:1080,setsar=1,format=yuv420p,split=5[v0][s1][s2][s3][sp];"
            "[s1]scale=1280:720,setsar=1[v1];[s2]scale=854:480,setsar=1[v2];[s3]scale=640:360,setsar=1[v3];"
            f"[sp]setpts=PTS-STARTPTS,trim=start={poster_at},trim=end_frame=1,scale=1280:720,setsar=1,"
            "format=yuvj420p[poster];"
            "[0:a]aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo,asplit=4[a0][a1][a2][a3]",
            "-map",
            "[v0]",
            "-map",
            "[v1]",
            "-map",
            "[v2]",
            "-map",
            "[v3]",
            "-map",
            "[a0]",
            "-map",
            "[a1]",
            "-map",
            "[a2]",
            "-map",
            "[a3]",
            "-c:v",
            "libx264",
            *X264,
            "-maxrate:v:0",
            "5000k",
            "-bufsize:v:0",
            "10000k",
            "-maxrate:v:1",
            "2800k",
            "-bufsize:v:1",
            "5600k",
            "-maxrate:v:2",
            "1400k",
            "-bufsize:v:2",
            "2800k",
            "-maxrate:v:3",
            "800k",
            "-bufsize:v:3",
            "1600k",
            *AAC,
            "-flags",
            "+global_header",
            "-f",
            "tee",
            "[f=hls:hls_time=4:hls_playlist_type=vod:hls_segment_type=mpegts:master_pl_name=master.m3u8:"
            "var_stream_map=\\'v:0,a:0,name:1080p v:1,a:1,name:720p v:2,a:2,name:480p v:3,a:3,name:360p\\':"
            "hls_segment_filename=%v/seg_%05d.ts]%v/index.m3u8|"
            "[f=mp4:movflags=+faststart:select=\\'v:1,a:1\\']video.mp4",
            "-map",
            "[poster]",
            "-frames:v",
            "1",
            "-update",
            "1",
            "-q:v",
            "3",
            "poster.jpg",
        ],
        cwd=out,
        check=True,
    )


def per_rendition(src: Path, out: Path) -> None:
    """One ffmpeg per rung, each decoding the source again (the 720p one also writes the MP4)."""
    out.mkdir()
    for name, width, height, maxrate in LADDER:
        (out / name).mkdir()
        hls = (
            f"[f=hls:hls_time=4:hls_playlist_type=vod:hls_segment_type=mpegts:"
            f"hls_segment_filename={name}/seg_%05d.ts]{name}/index.m3u8"
        )
        if name == "720p":
            hls += "|[f=mp4:movflags=+faststart]video.mp4"
        video = f"[0:v]scale={width}:{height},setsar=1,format=yuv420p"
        extra: list[str] = []
        if name == "1080p":
            video += (
                f",split=2[v][sp];[sp]setpts=PTS-STARTPTS,trim=start={round(SECONDS * 0.1, 3)},"
                "trim=end_frame=1,scale=1280:720,setsar=1,format=yuvj420p[poster]"
            )
            extra = ["-map", "[poster]", "-frames:v", "1", "-update", "1", "-q:v", "3", "poster.jpg"]
        else:
            video += "[v]"
        subprocess.run(
            [
                *FFMPEG,
                "-i",
                str(src),
                "-filter_complex",
                video + ";[0:a]aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[a]",
                "-map",
                "[v]",
                "-map",
                "[a]",
                "-c:v",
                "libx264",
                *X264,
                "-maxrate",
                f"{maxrate}k",
                "-bufsize",
                f"{2 * maxrate}k",
                *AAC,
                "-flags",
                "+global_header",
                "-f",
                "tee",
                hls,
                *extra,
            ],
            cwd=out,
            check=True,
        )


def first_playable(src: Path, out: Path) -> TranscodeResult:
    """What the worker does before a fast-path asset is playable: probe, decode check, phase 1."""
    info = probe(src)
    decode_check(src)
    the_plan = plan(info)
    if not two_phase(the_plan):
        raise SystemExit("the 720p source did not take the two-phase fast path")
    return first_phase(src, out / "asset", the_plan)


def full_transcode(src: Path, out: Path) -> TranscodeResult:
    """The same source without the fast path: playable only once everything is encoded."""
    decode_check(src)
    return transcode(src, out / "asset", allow_remux=False)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-transcode-") as folder:
        root = Path(folder)
        note(f"load average before: {os.getloadavg()[0]:.2f} (this machine has {os.cpu_count()} cores)")
        note(f"generating {SECONDS:g} s sources ...")
        src = generate(root / "src-1080p.mp4", 1920, 1080, crf=23)
        src720 = generate(root / "src-720p.mp4", 1280, 720, crf=30)
        fast_results: list = []

        note("1080p ladder: transcode() vs bare ffmpeg vs one process per rendition")
        ladder = best_of(
            {
                "pipeline": lambda out: transcode(src, out / "asset"),
                "bare": lambda out: bare_ffmpeg(src, out),
                "per-rendition": lambda out: per_rendition(src, out),
            },
            root,
        )
        note("720p: time to first playable, fast path (phase 1) vs full re-encode")
        remux = best_of(
            {
                "fast": lambda out: fast_results.append(first_playable(src720, out)),
                "full": lambda out: full_transcode(src720, out),
            },
            root,
        )
        if not all(result.fast_path and len(result.renditions) == 1 for result in fast_results):
            raise SystemExit("phase 1 of the fast path did more than copy the top rung")
        the_plan = plan(probe(src720))
        second, _ = measure(
            lambda: second_phase(src720, fast_results[-1].dest_dir, root / "phase-2" / "asset", the_plan)
        )

    (pipe_wall, pipe_cpu), (bare_wall, bare_cpu) = ladder["pipeline"], ladder["bare"]
    print(f"transcode.pipeline_vs_bare_ffmpeg.wall = {pipe_wall / bare_wall:.3f} ratio")
    print(f"transcode.pipeline_vs_bare_ffmpeg.cpu = {pipe_cpu / bare_cpu:.3f} ratio")
    print(f"transcode.pipeline_vs_per_rendition.cpu = {pipe_cpu / ladder['per-rendition'][1]:.3f} ratio")
    print(f"transcode.remux_fast_path_vs_full.wall = {remux['fast'][0] / remux['full'][0]:.3f} ratio")
    print(f"transcode.realtime_factor = {SECONDS / pipe_wall:.2f} x")
    note(
        f"fast path: playable after {remux['fast'][0]:.1f} s, every rung after another {second:.1f} s "
        f"(full re-encode: {remux['full'][0]:.1f} s)"
    )
    note(f"load average after: {os.getloadavg()[0]:.2f}")
    note("; ".join(f"{name}: {wall:.1f} s wall, {cpu:.1f} s cpu" for name, (wall, cpu) in {**ladder, **remux}.items()))


if __name__ == "__main__":
    main()
