"""Help-desk tables: requests, their messages, attachments and history, routes, templates.

A request is private: only the requester, the handlers of its current organisation and
admins see it (forum.helpdesk.handlers decides). `held` is the keyword engine's review
hold: while it is set no handler sees the request, only the requester (marked 待审核)
and the moderators deciding it in the shared review queue. `status` is the handling
state; every change of it, of the organisation or of the rating is one HelpEvent row.

SLA: `due_at` is fixed when the request reaches its handlers (filing, or release from
the review hold) and `first_answer_at` is set by the first handler answer; a request is
overdue when it is unanswered, not ended and past `due_at` (forum.helpdesk.sla).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dangxiao.accounts.models import Branch, User
from dangxiao.db_types import LabelledEnum, str_enum, utcnow
from dangxiao.extensions import db


class HelpCategory(LabelledEnum):
    transfer = "transfer", "组织关系转接"
    find_branch = "find_branch", "寻找党组织"
    dues = "dues", "党费缴纳"
    certificate = "certificate", "证明材料"
    org_life = "org_life", "组织生活"
    other = "other", "其他"


class RequestStatus(LabelledEnum):
    pending = "pending", "待受理"
    in_progress = "in_progress", "处理中"
    answered = "answered", "已答复"
    resolved = "resolved", "已解决"
    closed = "closed", "已关闭"

    @property
    def ended(self) -> bool:
        return self in (RequestStatus.resolved, RequestStatus.closed)


class Rating(LabelledEnum):
    satisfied = "satisfied", "满意"
    unsatisfied = "unsatisfied", "不满意"


class MessageState(LabelledEnum):
    published = "published", "已发送"
    held = "held", "待审核"
    rejected = "rejected", "未通过"


class HelpRequest(db.Model):
    __tablename__ = "help_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    home_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="SET NULL"))
    category: Mapped[HelpCategory] = mapped_column(str_enum(HelpCategory), index=True)
    # What the tag rules suggested for the text (None: nothing fired); kept to measure the suggestion.
    suggested_category: Mapped[HelpCategory | None] = mapped_column(str_enum(HelpCategory))
    region_code: Mapped[str] = mapped_column(String(12), index=True)  # forum.helpdesk.regions code, a leaf
    title: Mapped[str] = mapped_column(String(60))  # the description's first words, for lists
    description: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[RequestStatus] = mapped_column(str_enum(RequestStatus), default=RequestStatus.pending, index=True)
    held: Mapped[bool] = mapped_column(default=False)
    handling_branch_id: Mapped[int | None] = mapped_column(
        ForeignKey("branches.id", ondelete="SET NULL"), index=True
    )  # None: the unrouted queue (admins)
    route_id: Mapped[int | None] = mapped_column(ForeignKey("help_routes.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)  # last activity
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    first_answer_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # latest answer
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # resolved or closed
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # overdue reminder sent
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[Rating | None] = mapped_column(str_enum(Rating))
    rating_comment: Mapped[str] = mapped_column(String(200), default="")
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    home_branch: Mapped[Branch | None] = relationship(foreign_keys=[home_branch_id])
    handling_branch: Mapped[Branch | None] = relationship(foreign_keys=[handling_branch_id])

    __table_args__ = (Index("ix_help_requests_requester_created", "requester_id", "created_at"),)


class HelpMessage(db.Model):
    """An answer by a handler or a follow-up by the requester (plain text, shown escaped)."""

    __tablename__ = "help_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("help_requests.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_handler: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[MessageState] = mapped_column(str_enum(MessageState), default=MessageState.published)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("help_templates.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    author: Mapped[User | None] = relationship()


class HelpAttachment(db.Model):
    """An image or PDF, checked by content; stored under MEDIA_ROOT/help/, served only after a check."""

    __tablename__ = "help_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("help_requests.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("help_messages.id", ondelete="CASCADE"))
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(120))  # as the uploader named it, cleaned; shown only
    path: Mapped[str] = mapped_column(String(200))  # under MEDIA_ROOT, a random name
    mimetype: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HelpEvent(db.Model):
    """One step of a request's history: who did what, when, from which status to which."""

    __tablename__ = "help_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("help_requests.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))  # None: the system
    kind: Mapped[str] = mapped_column(String(20))  # filed, held, released, accepted, answered, handover, ...
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    from_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="SET NULL"))
    to_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    actor: Mapped[User | None] = relationship()
    from_branch: Mapped[Branch | None] = relationship(foreign_keys=[from_branch_id])
    to_branch: Mapped[Branch | None] = relationship(foreign_keys=[to_branch_id])


class HelpRoute(db.Model):
    """(category, region) → the organisation that handles it.

    `category` None matches every category; `region_prefix` is the significant prefix of a
    GB/T 2260 code ("44" 广东省, "4403" 深圳市, "440306" 宝安区; "" everywhere). The most
    specific route wins: the longest prefix, then a category route over an any-category one.
    The route with neither is the default queue. `to_home_branch` sends the request to the
    requester's home branch instead of `target_branch_id` (a transfer out starts there).
    """

    __tablename__ = "help_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[HelpCategory | None] = mapped_column(str_enum(HelpCategory))
    region_prefix: Mapped[str] = mapped_column(String(12), default="")
    target_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"))
    to_home_branch: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    target_branch: Mapped[Branch | None] = relationship()

    __table_args__ = (UniqueConstraint("category", "region_prefix", name="uq_help_routes_category_region"),)


class HelpTemplate(db.Model):
    """A ready answer handlers insert and edit; `published` ones are the public FAQ (常见问题)."""

    __tablename__ = "help_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80), unique=True)
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[HelpCategory | None] = mapped_column(str_enum(HelpCategory))
    published: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HotDocTerms(db.Model):
    """One text's keywords (space-separated, each once), segmented once when first seen.

    Segmenting is the slow part of hot topics (jieba ~0.3 M characters a second); keeping
    each document's terms makes a 30-day ranking a read of these rows, and lets deleted or
    hidden texts drop out by a join on their source instead of a recount.
    """

    __tablename__ = "hot_doc_terms"

    source: Mapped[str] = mapped_column(String(8), primary_key=True)  # "post" or "help"
    doc_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    terms: Mapped[str] = mapped_column(Text, default="")
