"""Forum policy rules (see dangxiao.policy); the answers come from forum.boards."""

from __future__ import annotations

from typing import Any

from dangxiao.policy import rule
from forum.boards import moderates, moderates_any_board
from forum.models import Post, Topic


@rule("forum.moderate_post")
def moderate_post(actor: Any, post: Any) -> bool:
    """Decide on one post (queue, edit, delete): a moderator whose board and branch scope cover it."""
    if not isinstance(post, Post):
        return False
    return moderates(actor, post.topic.board, post.author.branch_id)


@rule("forum.moderate_topic")
def moderate_topic(actor: Any, topic: Any) -> bool:
    """Topic-wide actions (pin, lock, move): any moderator of the topic's board."""
    if not isinstance(topic, Topic):
        return False
    return moderates_any_board(actor, topic.board)
