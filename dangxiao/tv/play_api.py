"""The play report API boxes call (JSON; authenticated by the device key, no cookies, no CSRF).

```
POST /api/tv/v1/plays            {"lesson_id": 12, "attendees": 8?}
                                 → 201 {"play": {"token","lesson_id","seconds","position"}}
POST /api/tv/v1/plays/<token>    {"seconds": 300, "position": 312.5, "attendees": 9?}
                                 → 200 {"play": {...}, "capped": false}
```
The rules live in ``plays``; these views only translate JSON. Reports are rate limited per
station (``TV_REPORT_RATE_LIMIT``): the wall-clock bound already makes extra reports
worthless, the limit keeps them cheap.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from dangxiao.access import DEVICE, current_device
from dangxiao.errors import DomainError
from dangxiao.extensions import limiter
from dangxiao.transactions import atomic
from dangxiao.tv import plays

bp = Blueprint("tv_plays", __name__, url_prefix="/api/tv/v1/plays")
BLUEPRINTS = [(bp, {"start": DEVICE, "report": DEVICE}, True)]


def _report_limit() -> str:
    return current_app.config.get("TV_REPORT_RATE_LIMIT", "60 per minute")


def _device_key() -> str:
    device = current_device()
    return f"tv-play-report:{getattr(device, 'id', None) or request.remote_addr}"


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise DomainError("请求内容必须是 JSON 对象。", "body_invalid")
    return body


@bp.post("", endpoint="start")
def start():
    body = _body()
    with atomic():
        play = plays.start_play(current_device(), body.get("lesson_id"), body.get("attendees"))
        result = {"play": plays.play_json(play)}
    return jsonify(result), 201


@bp.post("/<token>", endpoint="report")
@limiter.limit(_report_limit, key_func=_device_key)
def report(token: str):
    body = _body()
    for field in ("seconds", "position"):
        if field not in body:
            raise DomainError(f"缺少字段 {field}。", f"{field}_invalid", field)
    with atomic():
        play = plays.report_play(
            current_device(), token, body.get("seconds"), body.get("position"), body.get("attendees")
        )
        result = {"play": plays.play_json(play), "capped": bool(play.capped)}
    return jsonify(result)
