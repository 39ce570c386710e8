"""Media services ask media.policy themselves, flush, and leave the commit (and the queue) to the caller."""

from __future__ import annotations

import io
import threading

import pytest
from sqlalchemy import func, select

from dangxiao import policy
from dangxiao.accounts.models import User
from dangxiao.errors import Forbidden
from dangxiao.extensions import db
from dangxiao.transactions import atomic
from media import jobs, library, uploads
from media.models import AssetStatus, MediaAsset, TranscodeJob, Upload
from tests.media.media_helpers import login_admin, media_root


@pytest.fixture
def users(app, create_user) -> dict[str, int]:
    return {
        "admin": create_user("admin1", roles=["admin"]),
        "other_admin": create_user("admin2", roles=["admin"]),
        "member": create_user("member1"),
        "moderator": create_user("mod1", roles=["moderator", "member"]),
    }


def actor(user_id: int) -> User:
    return db.session.get(User, user_id)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_media_rules_are_registered_when_the_app_is_created(app):
    assert {"media.manage", "media.upload.write"} <= policy.actions()


def test_manage_is_for_admins_and_the_operator(ctx, users):
    assert policy.can(actor(users["admin"]), "media.manage")
    assert policy.can(policy.SYSTEM, "media.manage")
    assert not policy.can(actor(users["member"]), "media.manage")
    assert not policy.can(actor(users["moderator"]), "media.manage")
    assert not policy.can(None, "media.manage")


def test_only_the_admin_who_started_an_upload_may_write_it(ctx, users):
    owner = actor(users["admin"])
    with atomic():
        upload = uploads.create_upload(owner, "a.mp4", 100)
    assert policy.can(owner, "media.upload.write", upload)
    assert policy.can(policy.SYSTEM, "media.upload.write", upload)
    assert not policy.can(actor(users["other_admin"]), "media.upload.write", upload)
    assert not policy.can(actor(users["member"]), "media.upload.write", upload)
    # An owner who is no longer an admin may not go on either.
    owner.roles.clear()
    db.session.flush()
    assert not policy.can(owner, "media.upload.write", upload)


def test_services_refuse_a_member_themselves(ctx, users, tmp_path):
    member = actor(users["member"])
    source = tmp_path / "a.mp4"
    source.write_bytes(b"not really a video")
    with atomic():
        upload = uploads.create_upload(actor(users["admin"]), "a.mp4", 10)
        imported = library.import_file(actor(users["admin"]), source)
    asset = imported.asset
    calls = [
        lambda: uploads.create_upload(member, "b.mp4", 10),
        lambda: uploads.write_chunk(member, upload, 0, io.BytesIO(b"x"), 1),
        lambda: uploads.abort(member, upload),
        lambda: library.import_file(member, source),
        lambda: library.delete_asset(member, asset),
        lambda: jobs.retry(member, asset),
        lambda: jobs.cancel(member, asset),
        lambda: uploads.expire_uploads(member),
    ]
    for call in calls:
        with pytest.raises(Forbidden):
            call()
    db.session.rollback()
    assert count(MediaAsset) == 2 and count(Upload) == 1


def test_another_admin_cannot_abort_or_write_my_upload(ctx, users):
    with atomic():
        upload = uploads.create_upload(actor(users["admin"]), "a.mp4", 10)
    other = actor(users["other_admin"])
    with pytest.raises(Forbidden):
        uploads.abort(other, upload)
    with pytest.raises(Forbidden):
        uploads.write_chunk(other, upload, 0, io.BytesIO(b"x"), 1)
    with pytest.raises(uploads.NotFound):
        uploads.get_upload(other, upload.id)


def test_create_upload_only_flushes_the_caller_decides(ctx, users, app):
    upload = uploads.create_upload(actor(users["admin"]), "a.mp4", 10)
    assert upload.id is not None and upload.asset_id is not None
    db.session.rollback()
    assert count(MediaAsset) == 0 and count(Upload) == 0


def test_import_is_queued_only_after_the_commit(ctx, users, app, tmp_path):
    huey = app.extensions["huey"]
    source = tmp_path / "a.mp4"
    source.write_bytes(b"some bytes")
    library.import_file(actor(users["admin"]), source)
    assert huey.pending_count() == 0  # nothing handed to the queue yet
    db.session.rollback()
    assert huey.pending_count() == 0 and count(TranscodeJob) == 0  # rolled back: never queued

    with atomic():
        imported = library.import_file(actor(users["admin"]), source)
        assert huey.pending_count() == 0
    assert huey.pending_count() == 1
    assert imported.asset.status == AssetStatus.queued and imported.asset.job.id is not None
    assert (media_root(app) / imported.asset.source_path).read_bytes() == b"some bytes"
    # The staged copy of the rolled-back import is left for the sweep; the committed one is gone.
    assert len(list((media_root(app) / "uploads").glob("import-*.part"))) == 1
    assert source.read_bytes() == b"some bytes"  # the archive stays untouched


def test_the_cli_import_acts_as_the_operator(app, runner, tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "a.mp4").write_bytes(b"bytes of a")
    result = runner.invoke(args=["media", "import-dir", str(folder)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        asset = db.session.scalar(select(MediaAsset))
        assert asset.created_by_id is None and asset.status == AssetStatus.queued


def test_deleting_removes_files_only_once_committed(ctx, users, app, tmp_path):
    source = tmp_path / "a.mp4"
    source.write_bytes(b"some bytes")
    with atomic():
        asset = library.import_file(actor(users["admin"]), source).asset
    original = media_root(app) / asset.source_path
    library.delete_asset(actor(users["admin"]), asset)
    assert original.exists()
    db.session.rollback()
    assert original.exists() and count(MediaAsset) == 1
    with atomic():
        library.delete_asset(actor(users["admin"]), db.session.scalar(select(MediaAsset)))
    assert not original.exists() and count(MediaAsset) == 0


def test_the_part_file_stays_locked_until_the_new_offset_is_committed(app, users):
    """A second request for the same upload must not read an offset that is about to move."""
    with app.app_context():
        with atomic():
            upload = uploads.create_upload(actor(users["admin"]), "a.mp4", 100)
        upload_id = upload.id
        uploads.write_chunk(actor(users["admin"]), upload, 0, io.BytesIO(b"x" * 40), 40)  # not committed

        seen: list[str] = []

        def second_request() -> None:
            with app.app_context():
                try:
                    other = db.session.get(Upload, upload_id)
                    uploads.write_chunk(actor(users["admin"]), other, 0, io.BytesIO(b"y" * 40), 40)
                    seen.append("written")
                except uploads.UploadError as error:
                    seen.append(error.code)
                finally:
                    db.session.remove()

        thread = threading.Thread(target=second_request)
        thread.start()
        thread.join(timeout=30)
        assert seen == ["upload_busy"]
        db.session.commit()  # releases the lock

        thread = threading.Thread(target=second_request)
        thread.start()
        thread.join(timeout=30)
        assert seen == ["upload_busy", "offset_mismatch"]
    assert (media_root(app) / "uploads" / f"{upload_id}.part").read_bytes() == b"x" * 40


def test_same_content_finishing_at_the_same_moment_is_decided_by_the_unique_hash(
    app, client, auth, create_user, monkeypatch
):
    """The other upload committed between our look-up and our write: a SAVEPOINT undoes only our part."""
    api = login_admin(client, auth, create_user)
    data = b"identical lesson bytes" * 100
    first = api.create("a.mp4", len(data)).get_json()
    first_done = api.chunk(first["id"], 0, data).get_json()
    second = api.create("b.mp4", len(data)).get_json()

    real_find = library.find_by_hash
    calls = []

    def find_missing_once(sha256):
        calls.append(sha256)
        return None if len(calls) == 1 else real_find(sha256)

    monkeypatch.setattr(library, "find_by_hash", find_missing_once)
    response = api.chunk(second["id"], 0, data)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["complete"] is True and body["duplicate"] is True
    assert body["asset_id"] == first_done["asset_id"] and len(calls) == 2
    with app.app_context():
        assert count(MediaAsset) == 1 and count(TranscodeJob) == 1
        assert db.session.get(Upload, second["id"]).asset_id == first_done["asset_id"]
        assert db.session.get(Upload, second["id"]).completed_at is not None
    assert sorted(p.name for p in (media_root(app) / "originals").iterdir()) == [f"{first_done['asset_id']}.mp4"]
    assert list((media_root(app) / "uploads").iterdir()) == []
