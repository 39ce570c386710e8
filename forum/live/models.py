"""在线答疑 tables: sessions, their hosts, questions, votes, and the event log clients resync from.

Every change to a session (a question asked, approved, voted, answered, highlighted …) takes
the next number of that session's sequence (``LiveSession.seq``, moved by one conditional
UPDATE … RETURNING in the same transaction) and is written as a ``LiveEvent`` before anything
is broadcast. A broadcast carries that number; a client that reconnects asks for the events
after the last number it saw and gets exactly the ones it may see (``audience``: everyone,
the hosts, or one user), so a dropped connection or a restarted server loses nothing that
was acknowledged. ``(session_id, seq)`` is unique: two writers can never share a number.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dangxiao.accounts.models import Branch, User
from dangxiao.db_types import LabelledEnum, str_enum, utcnow
from dangxiao.extensions import db


class SessionStatus(LabelledEnum):
    scheduled = "scheduled", "未开始"
    live = "live", "进行中"
    closed = "closed", "已结束"


class ModerationMode(LabelledEnum):
    approve_all = "approve_all", "每个提问都需主持人审核"
    auto = "auto", "关键词检查通过即显示"


class Audience(LabelledEnum):
    public = "public", "所有访客"
    members = "members", "登录党员"
    branch = "branch", "指定组织及下级组织的党员"


class QuestionStatus(LabelledEnum):
    pending = "pending", "待审核"
    approved = "approved", "已通过"
    answered = "answered", "已回答"
    dismissed = "dismissed", "未采用"


class LiveSession(db.Model):
    __tablename__ = "live_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[SessionStatus] = mapped_column(str_enum(SessionStatus), default=SessionStatus.scheduled, index=True)
    moderation: Mapped[ModerationMode] = mapped_column(str_enum(ModerationMode), default=ModerationMode.approve_all)
    allow_anonymous: Mapped[bool] = mapped_column(default=False)
    audience: Mapped[Audience] = mapped_column(str_enum(Audience), default=Audience.members)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("school_courses.id", ondelete="SET NULL"))
    board_id: Mapped[int | None] = mapped_column(ForeignKey("forum_boards.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seq: Mapped[int] = mapped_column(Integer, default=0)  # the last event number handed out
    # Which Socket.IO rooms are current: moved when who may watch or host changes, so sockets
    # admitted under the old rules stop receiving (see forum.live.events).
    rooms_rev: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    highlighted_id: Mapped[int | None] = mapped_column(Integer)  # a LiveQuestion id (no FK: cycle)
    archive_topic_id: Mapped[int | None] = mapped_column(ForeignKey("forum_topics.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    branch: Mapped[Branch | None] = relationship()
    hosts: Mapped[list[LiveHost]] = relationship(back_populates="session", cascade="all, delete-orphan")


class LiveHost(db.Model):
    __tablename__ = "live_hosts"
    __table_args__ = (UniqueConstraint("session_id", "user_id", name="uq_live_hosts_session_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    session: Mapped[LiveSession] = relationship(back_populates="hosts")
    user: Mapped[User] = relationship()


class LiveQuestion(db.Model):
    __tablename__ = "live_questions"
    __table_args__ = (
        Index("ix_live_questions_session_status", "session_id", "status"),
        Index("ix_live_questions_author_created", "author_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    anonymous: Mapped[bool] = mapped_column(default=False)  # hidden from the audience, never from hosts
    text: Mapped[str] = mapped_column(Text)  # plain text as shown (escaped on output)
    original_text: Mapped[str | None] = mapped_column(Text)  # what was asked, when a host edited it
    status: Mapped[QuestionStatus] = mapped_column(str_enum(QuestionStatus), default=QuestionStatus.pending)
    dismiss_reason: Mapped[str] = mapped_column(String(200), default="")
    votes: Mapped[int] = mapped_column(Integer, default=0)  # kept equal to the live_votes rows
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])


class LiveVote(db.Model):
    __tablename__ = "live_votes"
    __table_args__ = (UniqueConstraint("question_id", "user_id", name="uq_live_votes_question_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("live_questions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LiveEvent(db.Model):
    __tablename__ = "live_events"
    __table_args__ = (UniqueConstraint("session_id", "seq", name="uq_live_events_session_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # question, votes, highlight, status, …
    audience: Mapped[str] = mapped_column(String(20))  # "all", "hosts", "user:<id>" (the asker; hosts see it too)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
