"""Moderators' rule pages: add, toggle, import, export, try a text; refusals for members and bad input."""

from __future__ import annotations

import io

from sqlalchemy import select

from dangxiao.extensions import db
from forum.moderation.models import ModerationRule

URL = "/moderation/rules/"


def _rules(app) -> dict[str, tuple[str, str, bool, int]]:
    with app.app_context():
        rows = db.session.scalars(select(ModerationRule)).all()
        return {r.word: (r.action, r.scope, r.enabled, r.hits) for r in rows}


def _upload(client, data: bytes, name: str, action: str = "block", scope: str = "all"):
    return client.post(
        URL + "import",
        data={"file": (io.BytesIO(data), name), "action": action, "scope": scope},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def test_moderator_manages_rules_and_tries_a_text(app, client, auth, create_user):
    create_user("mod", roles=["moderator"])
    auth.login("mod")
    page = client.get(URL)
    assert page.status_code == 200 and "敏感词" in page.get_data(as_text=True)

    added = client.post(URL + "add", data={"word": "刷单", "action": "block", "scope": "forum"}, follow_redirects=True)
    assert "已添加规则“刷单”" in added.get_data(as_text=True)
    again = client.post(URL + "add", data={"word": "刷單", "action": "block", "scope": "forum"}, follow_redirects=True)
    assert "已有相同的规则" in again.get_data(as_text=True)
    empty = client.post(URL + "add", data={"word": " \u200b ", "action": "block"}, follow_redirects=True)
    assert "请填写词语" in empty.get_data(as_text=True)
    bad = client.post(URL + "add", data={"word": "好词", "action": "explode"}, follow_redirects=True)
    assert "未知的处理方式" in bad.get_data(as_text=True)
    assert _rules(app) == {"刷单": ("block", "forum", True, 0)}

    # The try box: the evasion is found, the exact original span is marked, escaped, no hit counted.
    tried = client.post(URL + "try", data={"text": "<b>找人刷 單</b>", "scope": "forum"}).get_data(as_text=True)
    assert "<mark>刷 單</mark>" in tried and "&lt;b&gt;找人" in tried and "拒绝发布" in tried
    assert _rules(app)["刷单"][3] == 0

    with app.app_context():
        rule_id = db.session.scalar(select(ModerationRule.id))
    off = client.post(f"{URL}{rule_id}/toggle", data={"enabled": "0"}, follow_redirects=True)
    assert "已停用规则" in off.get_data(as_text=True) and _rules(app)["刷单"][2] is False
    assert "未命中" in client.post(URL + "try", data={"text": "刷单", "scope": "all"}).get_data(as_text=True)
    client.post(f"{URL}{rule_id}/toggle", data={"enabled": "1"})
    assert _rules(app)["刷单"][2] is True

    # Imports: UTF-8 TXT with BOM/duplicates/blank lines, a GBK CSV, and refused files storing nothing.
    txt = _upload(client, "\ufeff代考\n\n办证\r\n代考\n".encode(), "list.txt", action="review")
    assert "已添加 2 条" in txt.get_data(as_text=True)
    gbk = _upload(client, "word,action,scope\n傻瓜,censor,forum\n兼职,,\n".encode("gbk"), "list.csv")
    assert "已添加 2 条" in gbk.get_data(as_text=True)
    binary = _upload(client, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "list.txt")
    assert "不是文本文件" in binary.get_data(as_text=True)
    wrong = _upload(client, "好词,explode\n".encode(), "bad.csv")
    assert "第 1 条" in wrong.get_data(as_text=True)
    assert _rules(app) == {
        "刷单": ("block", "forum", True, 0),
        "代考": ("review", "all", True, 0),
        "办证": ("review", "all", True, 0),
        "傻瓜": ("censor", "forum", True, 0),
        "兼职": ("block", "all", True, 0),
    }

    # Filters (q escapes LIKE wildcards) and the list.
    listed = client.get(URL, query_string={"action": "review", "q": "代"}).get_data(as_text=True)
    assert "代考" in listed and "办证" not in listed and "傻瓜" not in listed
    assert "没有符合条件的规则" in client.get(URL, query_string={"q": "%"}).get_data(as_text=True)

    # Export CSV (BOM, attachment) reads back into the same rules; TXT lists the words.
    exported = client.get(URL + "export", query_string={"format": "csv"})
    assert exported.headers["Content-Disposition"].startswith("attachment")
    assert exported.data.startswith(b"\xef\xbb\xbf")
    lines = exported.data.decode("utf-8-sig").splitlines()
    assert lines[0] == "word,action,scope,category" and "傻瓜,censor,forum," in lines and len(lines) == 6
    words = client.get(URL + "export", query_string={"format": "txt"}).get_data(as_text=True).split()
    assert sorted(words) == sorted(_rules(app))
    assert "已添加 0 条" in _upload(client, exported.data, "back.csv").get_data(as_text=True)


def test_member_is_refused_and_posts_need_csrf(app, client, auth, create_user):
    create_user("plain")
    auth.login("plain")
    assert client.get(URL).status_code == 403
    assert client.post(URL + "add", data={"word": "刷单", "action": "block"}).status_code == 403
    assert client.get(URL + "export").status_code == 403
    create_user("boss", roles=["admin"])
    auth.logout()
    auth.login("boss")
    assert client.get(URL).status_code == 200  # admins pass by implication
    refused = client.post(URL + "add", data={"word": "刷单", "action": "block"}, csrf=False)
    assert refused.status_code == 400
    assert _rules(app) == {}


def test_tag_rule_category_is_cleaned_and_shown(app, client, auth, create_user):
    create_user("mod2", roles=["moderator"])
    auth.login("mod2")
    no_category = client.post(URL + "add", data={"word": "找工作", "action": "tag"}, follow_redirects=True)
    assert "需要填写类别" in no_category.get_data(as_text=True)
    client.post(URL + "add", data={"word": "找工作", "action": "tag", "category": "就\x00业\u202e"})
    with app.app_context():
        assert db.session.scalar(select(ModerationRule.category)) == "就业"
    tried = client.post(URL + "try", data={"text": "想找ＩＴ工作，找 工 作", "scope": "help"}).get_data(as_text=True)
    assert "<mark>找 工 作</mark>" in tried and '<span class="tag">就业</span>' in tried


def test_moderator_edits_a_rule_and_the_change_is_audited(app, client, auth, create_user):
    from forum.moderation.models import AuditEntry

    create_user("mod", roles=["moderator"])
    create_user("member")
    auth.login("mod")
    client.post(URL + "add", data={"word": "刷单", "action": "block", "scope": "forum"})
    client.post(URL + "add", data={"word": "代考", "action": "block", "scope": "forum"})
    with app.app_context():
        rule_id = db.session.scalar(select(ModerationRule.id).where(ModerationRule.word == "刷单"))
    form = client.get(f"{URL}{rule_id}/edit").get_data(as_text=True)
    assert 'value="刷单"' in form and '<label for="r-word">词语</label>' in form

    clash = client.post(f"{URL}{rule_id}/edit", data={"word": "代 考", "action": "block", "scope": "forum"})
    assert clash.status_code == 400 and "已有相同的规则" in clash.get_data(as_text=True)
    assert 'value="代 考"' in clash.get_data(as_text=True)  # what was typed stays
    assert _rules(app)["刷单"][:2] == ("block", "forum")

    done = client.post(
        f"{URL}{rule_id}/edit", data={"word": "刷單", "action": "review", "scope": "all"}, follow_redirects=True
    )
    assert "已修改规则“刷單”" in done.get_data(as_text=True)
    assert _rules(app)["刷單"][:2] == ("review", "all") and "刷单" not in _rules(app)
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["rule_add", "rule_add", "rule_update"]

    auth.logout()
    auth.login("member")
    assert client.get(f"{URL}{rule_id}/edit").status_code == 403
    assert client.post(f"{URL}{rule_id}/edit", data={"word": "x1", "action": "block"}).status_code == 403


def test_actions_return_to_the_filtered_list(app, client, auth, create_user):
    create_user("mod", roles=["moderator"])
    auth.login("mod")
    listing = URL + "?action=block&page=1"
    client.post(URL + "add", data={"word": "刷单", "action": "block", "next": listing})
    with app.app_context():
        rule_id = db.session.scalar(select(ModerationRule.id).where(ModerationRule.word == "刷单"))
    page = client.get(listing).get_data(as_text=True)
    assert f'value="{listing}"' in page.replace("&amp;", "&")  # every form carries where it came from

    back = client.post(f"{URL}{rule_id}/toggle", data={"enabled": "0", "next": listing})
    assert back.status_code == 302 and back.headers["Location"].endswith(listing)
    edited = client.post(
        f"{URL}{rule_id}/edit", data={"word": "刷单", "action": "review", "scope": "all", "next": listing}
    )
    assert edited.headers["Location"].endswith(listing)
    for hostile in ("https://evil.example/", "//evil.example/moderation/rules/", "/moderation/rules/try"):
        away = client.post(f"{URL}{rule_id}/toggle", data={"enabled": "1", "next": hostile})
        assert away.headers["Location"].endswith(URL)  # anything but the list itself: the plain list
