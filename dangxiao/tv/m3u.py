"""The M3U playlist (VLC, Kodi's IPTV Simple Client, box players): one entry per lesson.

Pure: catalogue data and a :class:`FeedUrls` in, bytes out. Players parse ``#EXTINF`` lines
in different ways — some split at the first comma outside quotes, some at the first comma,
some at the last — so no value we write contains ``"``, a line break or an ASCII comma
(replaced by the full-width ``＂`` and ``，`` a Chinese title reads the same with). Then every
one of those parsers finds the same attributes and the same title.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dangxiao.tv.catalog import TvCourse, TvLesson

MIMETYPE = "audio/x-mpegurl; charset=utf-8"  # what VLC and box players expect for an IPTV list
FORMATS = ("hls", "mp4")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class FeedUrls:
    """Absolute URLs (carrying the station's key) of a lesson's media and a course's cover."""

    hls: Callable[[int], str]
    mp4: Callable[[int], str]
    poster: Callable[[int], str]
    cover: Callable[[int], str]


def clean_text(value: object) -> str:
    """One line of text: control characters and line breaks become spaces, runs collapse."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", str(value or ""))).strip()


def attribute(value: object) -> str:
    """A value safe inside ``key="…"``: no quote, no comma, no line break."""
    return clean_text(value).replace('"', "＂").replace(",", "，")


def display_title(course: TvCourse, lesson: TvLesson) -> str:
    """``课程 第N讲 标题`` (the lesson title is left out when it only repeats 第N讲), quote- and comma-free."""
    number = f"第{lesson.position}讲"
    title = clean_text(lesson.title)
    return attribute(f"{clean_text(course.title)} {number}" + (f" {title}" if title and title != number else ""))


def playlist(courses: Iterable[TvCourse], urls: FeedUrls, fmt: str = "hls") -> bytes:
    """``#EXTM3U`` and two lines per lesson, courses in catalogue order, lessons by position."""
    media = urls.mp4 if fmt == "mp4" else urls.hls
    lines = ["#EXTM3U"]
    for course in courses:
        group = attribute(course.title)
        for lesson in sorted(course.lessons, key=lambda x: (x.position, x.id)):
            title = display_title(course, lesson)
            lines.append(
                f'#EXTINF:-1 tvg-id="lesson-{lesson.id}" tvg-name="{attribute(title)}"'
                f' tvg-logo="{attribute(urls.poster(lesson.id))}" group-title="{group}",{title}'
            )
            lines.append(_url_line(media(lesson.id)))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _url_line(url: str) -> str:
    """A URL never spans lines (ours are built by url_for, so this is only belt and braces)."""
    return _CONTROL.sub("", url).replace(" ", "%20")
