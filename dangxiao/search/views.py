"""The search page (``/search``) and its JSON twin (``/api/search``).

Both only translate the query string into :func:`dangxiao.search.service.search`, which
decides what the reader may see. A query string is typed by people and pasted by robots:
an unknown type, a malformed date or page is ignored (or clamped), never a 500 — the page
shows what it could make of the rest. The API is rate limited per reader
(``SEARCH_RATE_LIMIT``, default 60/minute: a person types far fewer queries).

```
GET /api/search?q=…&type=…&board=…&category=…&from=YYYY-MM-DD&to=YYYY-MM-DD&sort=relevance|date&page=N
→ {"total", "results": [{"type", "id", "title", "title_html", "url", "snippet_html", "created_at"}],
   "counts": {kind: n}, "page", "pages"}
```
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_login import current_user

from dangxiao.access import PUBLIC
from dangxiao.extensions import limiter
from dangxiao.queries import id_arg
from dangxiao.search import KIND_LABELS, service
from dangxiao.templating import isotime

bp = Blueprint("search", __name__)
ACCESS = {"page": PUBLIC, "api": PUBLIC}

SORTS = {"relevance": "按相关度", "date": "按时间"}
MAX_CATEGORY_CHARS = 40
MAX_PER_PAGE = 50


@dataclass(frozen=True)
class Params:
    """The query string, cleaned: what the service is asked and what the form shows again."""

    q: str
    kind: str | None
    board_id: int | None
    category: str | None
    date_from: date | None
    date_to: date | None
    sort: str
    page: int

    def query(self, **changes: Any) -> dict[str, Any]:
        """The non-default filters as URL arguments (for links that keep them), `changes` applied."""
        values: dict[str, Any] = {
            "q": self.q,
            "type": self.kind,
            "board": self.board_id,
            "category": self.category,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "sort": self.sort if self.sort != "relevance" else None,
        }
        values.update(changes)
        return {key: value for key, value in values.items() if value not in (None, "")}


def _date_arg(value: str | None) -> date | None:
    """YYYY-MM-DD (what <input type=date> sends) or None: anything else is ignored."""
    if not value or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _params() -> Params:
    args = request.args
    max_chars = current_app.config.get("SEARCH_MAX_QUERY_CHARS", 200)
    q = " ".join((args.get("q") or "")[: max_chars * 4].split())[:max_chars]
    kind = args.get("type") or None
    if kind not in KIND_LABELS:
        kind = None
    category = " ".join((args.get("category") or "").split())[:MAX_CATEGORY_CHARS] or None
    date_from, date_to = _date_arg(args.get("from")), _date_arg(args.get("to"))
    if date_from and date_to and date_from > date_to:
        date_from, date_to = date_to, date_from
    sort = args.get("sort") if args.get("sort") in SORTS else "relevance"
    return Params(
        q=q,
        kind=kind,
        board_id=id_arg(args.get("board")),
        category=category,
        date_from=date_from,
        date_to=date_to,
        sort=sort,
        page=id_arg(args.get("page")) or 1,
    )


def _search(params: Params, per_page: int) -> Any:
    return service.search(
        current_user._get_current_object(),
        params.q,
        kind=params.kind,
        board_id=params.board_id,
        category=params.category,
        date_from=params.date_from,
        date_to=params.date_to,
        sort=params.sort,
        page=params.page,
        per_page=per_page,
    )


def _kinds() -> list[str]:
    """The kinds a visitor can ask for: a visitor has no help requests of their own."""
    return [kind for kind in KIND_LABELS if kind != "help" or current_user.is_authenticated]


@bp.get("/search")
def page():
    params = _params()
    results = _search(params, current_app.config.get("SEARCH_PAGE_SIZE", 10)) if params.q else None
    counts = dict(results.counts) if results else {}
    return render_template(
        "search/results.html",
        params=params,
        results=results,
        counts=counts,
        all_count=sum(counts.values()),
        kinds=_kinds(),
        kind_labels=KIND_LABELS,
        sorts=SORTS,
    )


def _rate_limit() -> str:
    return current_app.config.get("SEARCH_RATE_LIMIT", "60 per minute")


def _reader_key() -> str:
    return f"search:{getattr(current_user, 'id', None) or request.remote_addr}"


@bp.get("/api/search")
@limiter.limit(_rate_limit, key_func=_reader_key)
def api():
    params = _params()
    per_page = min(id_arg(request.args.get("per_page")) or current_app.config.get("SEARCH_PAGE_SIZE", 10), MAX_PER_PAGE)
    results = _search(params, per_page)
    body = {
        "total": results.total,
        "results": [
            {
                "type": hit.kind,
                "id": hit.ref_id,
                "title": hit.title_html.striptags(),  # Markup: escaped text with <mark>s
                "title_html": str(hit.title_html),
                "url": hit.url,
                "snippet_html": str(hit.snippet_html),
                "created_at": isotime(hit.created_at),
            }
            for hit in results.hits
        ],
        "counts": dict(results.counts),
        "capped": results.capped,  # total and counts stop at SEARCH_MAX_MATCHES: "at least"
        "page": results.page,
        "pages": results.pages,
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "private, no-store"
    return response
