"""Domain errors and the HTTP error pages/JSON errors they turn into."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A rule of the domain was broken; `message` is shown to the user as is (Chinese)."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


MESSAGES = {
    400: ("bad_request", "请求有误", "提交的内容无法处理，请检查后重试。"),
    401: ("login_required", "请先登录", "该页面需要登录后才能访问。"),
    403: ("forbidden", "没有权限", "您没有访问此页面的权限。"),
    404: ("not_found", "页面不存在", "您访问的页面不存在或已被删除。"),
    405: ("method_not_allowed", "请求方式不允许", "该地址不支持此请求方式。"),
    413: ("too_large", "内容过大", "上传的内容超过了允许的大小。"),
    429: ("rate_limited", "操作过于频繁", "您的操作过于频繁，请稍后再试。"),
    500: ("server_error", "服务器错误", "服务器出现了问题，我们会尽快处理，请稍后再试。"),
    503: ("unavailable", "服务暂不可用", "服务暂时不可用，请稍后再试。"),
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


def error_response(status: int, code: str | None = None, message: str | None = None):
    default_code, title, default_message = MESSAGES.get(status, MESSAGES[500])
    code = code or default_code
    message = message or default_message
    if wants_json():
        return jsonify(error={"code": code, "message": message}), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(e: CSRFError):
        return error_response(400, "csrf_failed", "页面已过期或请求来源无法验证，请刷新页面后重试。")

    @app.errorhandler(DomainError)
    def domain_error(e: DomainError):
        return error_response(e.status, e.code, e.message)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        status = e.code or 500
        if status not in MESSAGES:
            return e
        return error_response(status)

    @app.errorhandler(Exception)
    def unhandled(e: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        return error_response(500)
