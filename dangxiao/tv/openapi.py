"""The OpenAPI 3.0.3 description of the station JSON API, served at ``/api/tv/v1/openapi.json``.

Box vendors and middleware integrators read it instead of our code; the test suite runs
schemathesis against it (tests/tv/test_openapi.py), so the document and the views cannot drift
apart: every status a view answers is listed and every body matches its schema. Objects are
closed (``additionalProperties: false``) so a new field is a deliberate change here too.
"""

from __future__ import annotations

from typing import Any

from dangxiao.queries import MAX_ID

ERROR_CODES = {
    400: "page_invalid, limit_invalid, updated_since_invalid, updated_since_future, body_invalid, "
    "lesson_id_invalid, attendees_invalid, seconds_invalid, position_invalid",
    401: "device_key_required（缺少、未知或已吊销的设备密钥）",
    404: "category_not_found, lesson_not_found, play_not_found",
    429: "play_rate_limited, rate_limited",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": extra.pop("additionalProperties", False),
        **extra,
    }


def _error(status: int) -> dict[str, Any]:
    return {
        "description": f"错误（{ERROR_CODES[status]}）",
        "content": {"application/json": {"schema": _ref("Error")}},
    }


TIME = {"type": "string", "format": "date-time", "example": "2026-03-01T08:00:00Z"}
URL = {"type": "string", "format": "uri"}
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
ATTENDEES = {"type": "integer", "minimum": 0, "maximum": 500, "nullable": True, "description": "参学人数（可省略）"}


def _or_empty(schema: dict[str, Any]) -> dict[str, Any]:
    """An empty value counts as absent (box apps fill URL templates and leave blanks)."""
    return {"anyOf": [schema, {"type": "string", "enum": [""]}]}


def _catalog_parameters(page_max: int) -> list[dict[str, Any]]:
    return [
        {
            "name": "page",
            "in": "query",
            "description": "页码，从 1 开始；超过末页得到空列表。",
            "schema": _or_empty({"type": "integer", "minimum": 1, "maximum": 100000}),
        },
        {
            "name": "limit",
            "in": "query",
            "description": "每页课程数。",
            "schema": _or_empty({"type": "integer", "minimum": 1, "maximum": page_max}),
        },
        {
            "name": "category",
            "in": "query",
            "description": "只要这个分类（及其下级分类）的课程；未知分类为 404。",
            "schema": _or_empty({"type": "integer", "minimum": 1}),
        },
        {
            "name": "updated_since",
            "in": "query",
            "description": "增量同步：上次响应的 next_since（ISO 8601，或 Unix 秒数）。只返回此后变化的课程，"
            "第 1 页附带此后删除的课程和课时（removed）。太旧时返回全量（full=true）。",
            "schema": {"type": "string", "maxLength": 40},
        },
        {
            "name": "If-None-Match",
            "in": "header",
            "description": "上次响应的 ETag；内容未变时返回 304。",
            "schema": {"type": "string"},
        },
    ]


def _catalog_responses(content_type: str) -> dict[str, Any]:
    headers = {
        "ETag": {"schema": {"type": "string"}, "description": "内容的强校验值"},
        "Last-Modified": {"schema": {"type": "string"}, "description": "目录最后变化的时间"},
    }
    if content_type == "application/json":
        content = {"application/json": {"schema": _ref("Catalog")}}
    else:  # the same document, element for field (see dangxiao/tv/xmlfeed.py)
        content = {content_type: {"schema": {"type": "string"}}}
    return {
        "200": {"description": "接收站点可观看的目录（一页）", "headers": headers, "content": content},
        "304": {"description": "与 If-None-Match 的 ETag 相同：内容未变"},
        "400": _error(400),
        "401": _error(401),
        "404": _error(404),
    }


def spec(page_max: int = 100) -> dict[str, Any]:
    """The document; `page_max` is TV_PAGE_MAX (the largest ``limit``)."""
    lesson = _obj(
        {
            "id": ID,
            "position": {"type": "integer"},
            "title": {"type": "string"},
            "duration": {"type": "number", "minimum": 0, "description": "秒"},
            "poster_url": URL,
            "hls_url": {**URL, "description": "HLS 主播放列表（302 到带授权的媒体地址）"},
            "mp4_url": {**URL, "description": "MP4（302 到带授权的媒体地址），适合老机顶盒"},
            "updated_at": TIME,
        }
    )
    course = _obj(
        {
            "id": ID,
            "title": {"type": "string"},
            "summary": {"type": "string", "description": "纯文本简介"},
            "teacher": {"type": "string"},
            "category_id": {**ID, "nullable": True},
            "required": {"type": "boolean", "description": "指派给本站点所在党组织（或上级）的必修课"},
            "credit_hours": {"type": "number", "minimum": 0},
            "updated_at": TIME,
            "cover_url": URL,
            "lessons": {"type": "array", "items": _ref("Lesson")},
        }
    )
    catalog = _obj(
        {
            "version": {"type": "integer", "description": "目录版本，内容变化时增加"},
            "generated_at": TIME,
            "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1},
            "total": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1},
            "full": {"type": "boolean", "description": "true：这是完整目录，请替换本地副本"},
            "next_since": {**TIME, "description": "下次增量同步时作为 updated_since 发送"},
            "categories": {"type": "array", "items": _ref("Category")},
            "courses": {"type": "array", "items": _ref("Course")},
            "removed": {"type": "array", "items": _ref("Tombstone")},
        }
    )
    play = _obj(
        {
            "token": {"type": "string"},
            "lesson_id": ID,
            "seconds": {"type": "number", "minimum": 0},
            "position": {"type": "number", "minimum": 0},
        }
    )
    security = [{"deviceKey": []}, {"deviceKeyQuery": []}]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "党校远程教育接收站点接口",
            "version": "1",
            "description": "机顶盒用设备密钥访问：请求头 X-Device-Key、查询参数 key=，或在任何地址前加 /tv/k/<密钥>/。"
            "目录接口支持 ETag/If-None-Match（304）、Last-Modified 和 gzip。",
        },
        "paths": {
            "/api/tv/v1/catalog": {
                "get": {
                    "operationId": "getCatalog",
                    "summary": "目录（JSON）：分类、课程、课时及播放地址",
                    "parameters": _catalog_parameters(page_max),
                    "responses": _catalog_responses("application/json"),
                    "security": security,
                }
            },
            "/api/tv/v1/catalog.xml": {
                "get": {
                    "operationId": "getCatalogXml",
                    "summary": "目录（XML），内容与 JSON 相同",
                    "parameters": _catalog_parameters(page_max),
                    "responses": _catalog_responses("application/xml"),
                    "security": security,
                }
            },
            "/api/tv/v1/plays": {
                "post": {
                    "operationId": "startPlay",
                    "summary": "开始播放一个课时",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("PlayStart")}},
                    },
                    "responses": {
                        "201": {
                            "description": "播放已开始；用 token 报告进度",
                            "content": {"application/json": {"schema": _ref("PlayResponse")}},
                        },
                        "400": _error(400),
                        "401": _error(401),
                        "404": _error(404),
                        "429": _error(429),
                    },
                    "security": security,
                }
            },
            "/api/tv/v1/plays/{token}": {
                "post": {
                    "operationId": "reportPlay",
                    "summary": "报告播放进度（秒数以墙钟时间和课时长度为上限）",
                    "parameters": [
                        {
                            "name": "token",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("PlayReport")}},
                    },
                    "responses": {
                        "200": {
                            "description": "已记录；capped=true 表示报告的秒数超过允许值而被截断",
                            "content": {"application/json": {"schema": _ref("PlayReportResponse")}},
                        },
                        "400": _error(400),
                        "401": _error(401),
                        "404": _error(404),
                        "429": _error(429),
                    },
                    "security": security,
                }
            },
        },
        "components": {
            "securitySchemes": {
                "deviceKey": {"type": "apiKey", "in": "header", "name": "X-Device-Key"},
                "deviceKeyQuery": {"type": "apiKey", "in": "query", "name": "key"},
            },
            "schemas": {
                "Error": _obj(
                    {
                        "error": _obj(
                            {"code": {"type": "string"}, "message": {"type": "string"}},
                        )
                    }
                ),
                "Category": _obj({"id": ID, "parent_id": {**ID, "nullable": True}, "name": {"type": "string"}}),
                "Lesson": lesson,
                "Course": course,
                "Tombstone": _obj(
                    {
                        "type": {"type": "string", "enum": ["course", "lesson"]},
                        "id": ID,
                        "course_id": ID,
                        "removed_at": TIME,
                    }
                ),
                "Catalog": catalog,
                "PlayStart": _obj(
                    {"lesson_id": ID, "attendees": ATTENDEES},
                    required=["lesson_id"],
                    additionalProperties=True,  # requests stay open: newer boxes may send more
                ),
                "PlayReport": _obj(
                    {
                        "seconds": {"type": "number", "minimum": 0, "description": "本次播放累计观看秒数"},
                        "position": {"type": "number", "description": "当前播放位置（秒），下次从此续播"},
                        "attendees": ATTENDEES,
                    },
                    required=["seconds", "position"],
                    additionalProperties=True,
                ),
                "Play": play,
                "PlayResponse": _obj({"play": _ref("Play")}),
                "PlayReportResponse": _obj({"play": _ref("Play"), "capped": {"type": "boolean"}}),
            },
        },
    }
