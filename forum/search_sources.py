"""The forum's and the help desk's search documents (registered on import).

- "topic": the title and the opening post, while the topic is published;
- "post": a published reply in a published topic, titled 回复：<topic title>;
- "faq": a published answer template, readable by everyone;
- "help": a help request not held for review, readable by its requester only.

Topics and replies carry "board:<id>"; a reader holds the tokens of
:func:`forum.boards.readable_board_ids`, so a board made private hides its threads at once,
with no reindex. Archived boards stay readable and stay indexed. A topic whose board, state
or title changes re-marks its replies (their board filter, visibility and title follow it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import and_, inspect, or_, select

from dangxiao.db_types import aware
from dangxiao.extensions import db
from dangxiao.markup import plain_text
from dangxiao.notifications.service import path_for
from dangxiao.search import KIND_LABELS, Doc, Source, register_source
from dangxiao.search.service import watch
from forum.boards import readable_board_ids
from forum.helpdesk.models import HelpRequest, HelpTemplate
from forum.models import Post, PostState, Topic

CHUNK = 500  # ids per IN (…) list: well under SQLite's bound-parameter limit


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _logged_in(actor: Any) -> bool:
    return actor is not None and bool(getattr(actor, "is_authenticated", False)) and getattr(actor, "id", None)


def _not_opener() -> Any:
    return or_(Topic.first_post_id.is_(None), Topic.first_post_id != Post.id)


# --- topics and replies ---------------------------------------------------------------------------


def load_topics(ids: list[int]) -> list[Doc]:
    docs = []
    for chunk in _chunks(ids):
        rows = db.session.execute(
            select(Topic.id, Topic.title, Topic.board_id, Topic.created_at, Post.body_html)
            .outerjoin(Post, and_(Post.id == Topic.first_post_id, Post.state == PostState.published))
            .where(Topic.id.in_(chunk), Topic.state == PostState.published)
        )
        for topic_id, title, board_id, created_at, body_html in rows:
            docs.append(
                Doc(
                    kind="topic",
                    ref_id=topic_id,
                    title=title,
                    body=plain_text(body_html or ""),
                    url=path_for("forum.topic", topic_id=topic_id),
                    access=f"board:{board_id}",
                    created_at=aware(created_at),
                    board_id=board_id,
                )
            )
    return docs


def load_posts(ids: list[int]) -> list[Doc]:
    docs = []
    for chunk in _chunks(ids):
        rows = db.session.execute(
            select(Post.id, Post.body_html, Post.created_at, Topic.title, Topic.board_id)
            .join(Topic, Topic.id == Post.topic_id)
            .where(
                Post.id.in_(chunk),
                Post.state == PostState.published,
                Topic.state == PostState.published,
                _not_opener(),
            )
        )
        for post_id, body_html, created_at, topic_title, board_id in rows:
            docs.append(
                Doc(
                    kind="post",
                    ref_id=post_id,
                    title=f"回复：{topic_title}",
                    body=plain_text(body_html or ""),
                    url=path_for("forum.post", post_id=post_id),
                    access=f"board:{board_id}",
                    created_at=aware(created_at),
                    board_id=board_id,
                )
            )
    return docs


def topic_ids() -> list[int]:
    stmt = select(Topic.id).where(Topic.state == PostState.published).order_by(Topic.id)
    return list(db.session.scalars(stmt))


def post_ids() -> list[int]:
    stmt = (
        select(Post.id)
        .join(Topic, Topic.id == Post.topic_id)
        .where(Post.state == PostState.published, Topic.state == PostState.published, _not_opener())
        .order_by(Post.id)
    )
    return list(db.session.scalars(stmt))


def board_tokens(actor: Any) -> list[str]:
    """The token board:<id> of every board the actor may read (anonymous visitors: the public ones)."""
    return [f"board:{board_id}" for board_id in db.session.scalars(readable_board_ids(actor))]


def topic_marks(topic: Topic) -> Iterable[tuple[str, int]]:
    """The topic; its replies too when what they inherit (board, visibility, title) changed."""
    yield "topic", topic.id
    attrs = inspect(topic).attrs
    if topic.id is not None and any(attrs[name].history.has_changes() for name in ("board_id", "state", "title")):
        for post_id in db.session.scalars(select(Post.id).where(Post.topic_id == topic.id)):
            yield "post", post_id


def post_marks(post: Post) -> Iterable[tuple[str, int]]:
    """The post; its topic too when it is (or is about to become) the opening post."""
    yield "post", post.id
    topic = db.session.get(Topic, post.topic_id) if post.topic_id is not None else None
    if topic is not None and topic.first_post_id in (None, post.id):
        yield "topic", topic.id


# --- the help desk ---------------------------------------------------------------------------------


def load_faq(ids: list[int]) -> list[Doc]:
    docs = []
    for chunk in _chunks(ids):
        stmt = select(HelpTemplate).where(HelpTemplate.id.in_(chunk), HelpTemplate.published.is_(True))
        for entry in db.session.scalars(stmt):
            docs.append(
                Doc(
                    kind="faq",
                    ref_id=entry.id,
                    title=entry.title,
                    body=entry.body,
                    url=path_for("help_faq.faq") + f"#faq-{entry.id}",
                    access="public",
                    created_at=aware(entry.updated_at),
                    category=entry.category.value if entry.category is not None else "",
                )
            )
    return docs


def load_help(ids: list[int]) -> list[Doc]:
    docs = []
    for chunk in _chunks(ids):
        stmt = select(HelpRequest).where(HelpRequest.id.in_(chunk), HelpRequest.held.is_(False))
        for req in db.session.scalars(stmt):
            docs.append(
                Doc(
                    kind="help",
                    ref_id=req.id,
                    title=req.title,
                    body=req.description,
                    url=path_for("helpdesk.show", request_id=req.id),
                    access=f"user:{req.requester_id}",
                    created_at=aware(req.created_at),
                    category=req.category.value,
                )
            )
    return docs


def faq_ids() -> list[int]:
    stmt = select(HelpTemplate.id).where(HelpTemplate.published.is_(True)).order_by(HelpTemplate.id)
    return list(db.session.scalars(stmt))


def help_ids() -> list[int]:
    return list(db.session.scalars(select(HelpRequest.id).where(HelpRequest.held.is_(False)).order_by(HelpRequest.id)))


def faq_tokens(actor: Any) -> list[str]:
    return ["public"]


def help_tokens(actor: Any) -> list[str]:
    """One's own requests only: handlers work them in the help desk, not through search."""
    return [f"user:{actor.id}"] if _logged_in(actor) else []


register_source(Source("topic", KIND_LABELS["topic"], load_topics, topic_ids, board_tokens))
register_source(Source("post", KIND_LABELS["post"], load_posts, post_ids, board_tokens))
register_source(Source("faq", KIND_LABELS["faq"], load_faq, faq_ids, faq_tokens))
register_source(Source("help", KIND_LABELS["help"], load_help, help_ids, help_tokens))
# Only what a document shows or who may read it: pins, locks, likes and counters do not re-index.
watch(Topic, "topic", topic_marks, fields=("title", "state", "board_id", "first_post_id", "created_at"))
watch(Post, "post", post_marks, fields=("body", "body_html", "state", "topic_id"))
watch(HelpTemplate, "faq", fields=("title", "body", "category", "published"))
watch(HelpRequest, "help", fields=("title", "description", "category", "held", "requester_id"))
