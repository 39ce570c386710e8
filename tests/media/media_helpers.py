"""Helpers shared by the media web/job tests: an admin session and the upload API by hand."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from dangxiao.extensions import db
from media.models import MediaAsset, TranscodeJob

OCTET = "application/octet-stream"


class MediaApi:
    """The browser's upload.js, spoken by the test client (CSRF header read from a real page)."""

    def __init__(self, client: FlaskClient):
        self.client = client
        self.token = client.csrf_token()

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-CSRFToken": self.token, **extra}

    def create(self, filename: str, size: int, title: str | None = None, **kw):
        body = {"filename": filename, "size": size}
        if title is not None:
            body["title"] = title
        return self.client.post(
            "/api/media/uploads", json=body, headers=kw.pop("headers", self.headers()), csrf=False, **kw
        )

    def chunk(self, upload_id: int, offset: int, data: bytes, **kw):
        headers = kw.pop("headers", None) or self.headers(**{"Upload-Offset": str(offset)})
        return self.client.patch(
            f"/api/media/uploads/{upload_id}", data=data, headers=headers, content_type=OCTET, csrf=False, **kw
        )

    def offset(self, upload_id: int) -> int:
        response = self.client.head(f"/api/media/uploads/{upload_id}")
        assert response.status_code == 200, response.status_code
        return int(response.headers["Upload-Offset"])

    def upload(self, path: Path, title: str | None = None, chunk: int = 64 * 1024) -> dict:
        """Upload a whole file in chunks; returns the final JSON (with asset_id)."""
        data = path.read_bytes()
        created = self.create(path.name, len(data), title)
        assert created.status_code == 201, created.get_json()
        upload_id = created.get_json()["id"]
        offset, body = 0, created.get_json()
        while offset < len(data):
            response = self.chunk(upload_id, offset, data[offset : offset + chunk])
            assert response.status_code == 200, response.get_json()
            body = response.get_json()
            offset = body["offset"]
        return body


def login_admin(client, auth, create_user, username: str = "mediaadmin") -> MediaApi:
    create_user(username, roles=["admin"], display_name="媒体管理员")
    response = auth.login(username)
    assert response.status_code == 302
    return MediaApi(client)


def asset_and_job(asset_id: int) -> tuple[MediaAsset, TranscodeJob]:
    db.session.expire_all()
    asset = db.session.get(MediaAsset, asset_id)
    assert asset is not None and asset.job is not None
    return asset, asset.job


def media_root(app) -> Path:
    return Path(app.config["MEDIA_ROOT"])


def write_text_as_mp4(path: Path) -> Path:
    path.write_text("学习笔记：第一课\nnotes from the lesson, not a video\n" * 100, encoding="utf-8")
    return path
