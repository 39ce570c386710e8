"""Who may see and act on a request, at the service level (the HTTP tests check the pages).

Outsiders — another member, a handler of another region, a moderator who moderates the
requester but handles nothing — get NotFound for the request and its attachment, and it
is in none of their lists. A requester trying to act as a handler is refused with 403 on
their own request and 404 on someone else's.
"""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from dangxiao.errors import Forbidden, NotFound
from dangxiao.extensions import db
from dangxiao.transactions import atomic
from forum.helpdesk import attachments, handlers, workflow
from forum.helpdesk.models import HelpRequest
from tests.forum.helpdesk.support import act, file, user


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def listed(name: str, req_id: int) -> dict[str, bool]:
    actor = user(name)
    return {
        scope: req_id in [r.id for r in db.session.scalars(handlers.visible_stmt(actor, scope=scope))]
        for scope in ("mine", "todo", "all")
    }


def test_outsiders_cannot_read_list_or_download(ctx, world):
    req = file(uploads=[("证明.png", png())])
    (attachment,) = attachments.for_request(req)
    for name in ("other", "bj_handler", "mod"):
        actor = user(name)
        with pytest.raises(NotFound):
            handlers.get_visible(actor, req.id)
        with pytest.raises(NotFound):
            attachments.open_for(actor, req.id, attachment.id)
        assert listed(name, req.id) == {"mine": False, "todo": False, "all": False}
    for name in ("zhaoliu", "sz_handler", "admin"):
        row, path = attachments.open_for(user(name), req.id, attachment.id)
        assert row.id == attachment.id and os.path.isfile(path)
    assert listed("zhaoliu", req.id)["mine"] and listed("sz_handler", req.id)["todo"]
    assert listed("admin", req.id) == {"mine": False, "todo": False, "all": True}
    # an attachment id under another request's id is not found either
    mine = file("other", "我在北京，想问党费怎么交？", region="110101", category="dues")
    with pytest.raises(NotFound):
        attachments.open_for(user("other"), mine.id, attachment.id)


def test_a_handler_of_another_region_cannot_act(ctx, world):
    req = file()
    for fn, args in (
        (workflow.accept, ()),
        (workflow.answer, ("请准备介绍信。",)),
        (workflow.hand_over, (world.bj, "转给我们处理")),
        (workflow.close, ("关闭",)),
    ):
        with pytest.raises(NotFound), atomic():
            fn(user("bj_handler"), req.id, *args)
    assert db.session.get(HelpRequest, req.id).handling_branch_id == world.sz


def test_a_requester_cannot_act_as_a_handler(ctx, world):
    theirs = file("other", "我在北京，想问党费怎么交？", region="110101", category="dues")
    act(workflow.answer, "bj_handler", theirs.id, "可以网上缴纳。")
    for fn, args in ((workflow.hand_over, (world.sz, "我来改")), (workflow.resolve, ()), (workflow.accept, ())):
        with pytest.raises(NotFound), atomic():
            fn(user("zhaoliu"), theirs.id, *args)
    own = file()
    for fn, args in (
        (workflow.hand_over, (world.bj, "换个地方")),
        (workflow.accept, ()),
        (workflow.answer, ("我自己答",)),
    ):
        with pytest.raises(Forbidden), atomic():
            fn(user("zhaoliu"), own.id, *args)
    assert workflow.allowed_actions(user("zhaoliu"), own) == {"follow_up", "close"}
    assert workflow.allowed_actions(user("sz_handler"), own) == {"accept", "answer", "hand_over", "close"}
    assert workflow.allowed_actions(user("bj_handler"), own) == set()


def test_unrouted_requests_are_the_admins_queue(ctx, world):
    req = file(region="310101")  # 上海: no route
    assert req.handling_branch_id is None
    assert listed("admin", req.id)["todo"] and not listed("sz_handler", req.id)["todo"]
    with pytest.raises(NotFound):
        handlers.get_visible(user("sz_handler"), req.id)
    act(workflow.answer, "admin", req.id, "请联系上海市委组织部。")
