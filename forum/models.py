"""Forum tables: boards, topics, posts and what members attach to them.

A topic's opening post is an ordinary post (``number`` 1 is not special in the table),
so editing, flags, likes, revisions and the review queue treat it like any reply. A
post's `state` decides who sees it: ``published`` everyone who may read the board,
``held`` the author (marked 待审核) and the moderators, ``rejected``/``deleted`` only
the moderators. The topic mirrors its opening post's state, and carries the counters a
board page needs (replies, last post) so listing a board never counts posts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dangxiao.accounts.models import Branch, User
from dangxiao.db_types import LabelledEnum, str_enum, utcnow
from dangxiao.extensions import db


class ReadAccess(LabelledEnum):
    public = "public", "所有访客"
    members = "members", "登录党员"
    branch = "branch", "指定组织的党员"


class PostAccess(LabelledEnum):
    members = "members", "登录党员"
    branch = "branch", "指定组织的党员"
    moderators = "moderators", "仅版主"


class Approval(LabelledEnum):
    none = "none", "先发后审"
    topics = "topics", "新主题需审核"
    all = "all", "所有帖子需审核"


class TopicKind(LabelledEnum):
    discussion = "discussion", "讨论"
    question = "question", "提问"


class PostState(LabelledEnum):
    published = "published", "已发布"
    held = "held", "待审核"
    rejected = "rejected", "未通过"
    deleted = "deleted", "已删除"


class FlagReason(LabelledEnum):
    off_topic = "off_topic", "偏离主题"
    inappropriate = "inappropriate", "内容不当"
    spam = "spam", "垃圾广告"
    other = "other", "其他"


class Board(db.Model):
    """A board (版块) and its settings; `branch_id` is the subtree for ``branch`` access."""

    __tablename__ = "forum_boards"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(default=0)
    read_access: Mapped[ReadAccess] = mapped_column(str_enum(ReadAccess), default=ReadAccess.members)
    post_access: Mapped[PostAccess] = mapped_column(str_enum(PostAccess), default=PostAccess.members)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"), index=True)
    approval: Mapped[Approval] = mapped_column(str_enum(Approval), default=Approval.none)
    flag_threshold: Mapped[int] = mapped_column(default=3)  # flags that hide a post pending review
    edit_window_minutes: Mapped[int] = mapped_column(default=60)  # 0 = authors may not edit
    archived: Mapped[bool] = mapped_column(default=False)  # read-only, hidden from the board list
    topic_count: Mapped[int] = mapped_column(default=0)  # published topics
    post_count: Mapped[int] = mapped_column(default=0)  # published posts, openers included
    last_post_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    branch: Mapped[Branch | None] = relationship()
    moderators: Mapped[list[BoardModerator]] = relationship(
        back_populates="board", cascade="all, delete-orphan", lazy="selectin"
    )


class BoardModerator(db.Model):
    """A user who moderates a board, optionally only posts by members of a branch subtree."""

    __tablename__ = "forum_board_moderators"

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("forum_boards.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"))

    board: Mapped[Board] = relationship(back_populates="moderators")
    user: Mapped[User] = relationship(lazy="joined")
    scope_branch: Mapped[Branch | None] = relationship(lazy="joined")

    __table_args__ = (UniqueConstraint("board_id", "user_id", name="uq_forum_board_moderators_board_user"),)


class Topic(db.Model):
    __tablename__ = "forum_topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("forum_boards.id", ondelete="RESTRICT"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    kind: Mapped[TopicKind] = mapped_column(str_enum(TopicKind), default=TopicKind.discussion)
    state: Mapped[PostState] = mapped_column(str_enum(PostState), default=PostState.published)
    pinned: Mapped[bool] = mapped_column(default=False)
    locked: Mapped[bool] = mapped_column(default=False)
    reply_count: Mapped[int] = mapped_column(default=0)  # published replies (opener excluded)
    like_count: Mapped[int] = mapped_column(default=0)  # likes on the opening post
    first_post_id: Mapped[int | None] = mapped_column(
        ForeignKey("forum_posts.id", ondelete="SET NULL", use_alter=True, name="fk_forum_topics_first_post_id")
    )
    last_post_id: Mapped[int | None] = mapped_column(
        ForeignKey("forum_posts.id", ondelete="SET NULL", use_alter=True, name="fk_forum_topics_last_post_id")
    )
    accepted_post_id: Mapped[int | None] = mapped_column(
        ForeignKey("forum_posts.id", ondelete="SET NULL", use_alter=True, name="fk_forum_topics_accepted_post_id")
    )
    last_post_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    board: Mapped[Board] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    last_author: Mapped[User | None] = relationship(foreign_keys=[last_author_id])

    __table_args__ = (
        # The board page: pinned first, then by last activity, published only.
        Index("ix_forum_topics_board_listing", "board_id", "state", "pinned", "last_post_at"),
    )


class Post(db.Model):
    """One post. `body` is the Markdown as typed, `body_html` its sanitised rendering."""

    __tablename__ = "forum_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("forum_topics.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    state: Mapped[PostState] = mapped_column(str_enum(PostState), default=PostState.published)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("forum_posts.id", ondelete="SET NULL"))
    # sha256 of the folded text: the same post twice within minutes is refused.
    content_hash: Mapped[str] = mapped_column(String(64))
    like_count: Mapped[int] = mapped_column(default=0)
    flag_count: Mapped[int] = mapped_column(default=0)  # open flags
    edit_count: Mapped[int] = mapped_column(default=0)
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    topic: Mapped[Topic] = relationship(foreign_keys=[topic_id])
    author: Mapped[User] = relationship(foreign_keys=[author_id])

    __table_args__ = (
        Index("ix_forum_posts_topic_state_id", "topic_id", "state", "id"),
        Index("ix_forum_posts_author_created", "author_id", "created_at"),
    )


class PostRevision(db.Model):
    """The text of a post before an edit; every edit adds one row (moderators read them)."""

    __tablename__ = "forum_post_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"), index=True)
    title: Mapped[str | None] = mapped_column(String(100))  # the topic title, for opening posts
    body: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    editor: Mapped[User | None] = relationship()


class PostLike(db.Model):
    __tablename__ = "forum_post_likes"

    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PostFlag(db.Model):
    """A member's flag on a post; one per member and post. Resolved when a moderator decides."""

    __tablename__ = "forum_post_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[FlagReason] = mapped_column(str_enum(FlagReason))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("post_id", "user_id", name="uq_forum_post_flags_post_user"),)


class Subscription(db.Model):
    """A member following a topic: replies notify them. Authors follow their topics."""

    __tablename__ = "forum_subscriptions"

    topic_id: Mapped[int] = mapped_column(ForeignKey("forum_topics.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TopicRead(db.Model):
    """How far a member has read a topic, and when they last had it open (who is reading)."""

    __tablename__ = "forum_topic_reads"

    topic_id: Mapped[int] = mapped_column(ForeignKey("forum_topics.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    last_read_post_id: Mapped[int] = mapped_column(default=0)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship()

    __table_args__ = (
        CheckConstraint("last_read_post_id >= 0", name="last_read"),
        Index("ix_forum_topic_reads_topic_seen", "topic_id", "seen_at"),
    )
