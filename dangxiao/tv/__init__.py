"""Set-top boxes at village receiving stations (远程教育接收站点).

Rooms: ``models`` (tables), ``prefix`` (the ``/tv/k/<key>/`` mount), ``devices`` (keys: issue,
rotate, revoke, the device loader), ``admin_views`` + ``cli`` (managing stations), ``changes``
(catalogue version and tombstones, kept by session hooks), ``catalog`` (the ONE service that
builds what a station may watch), ``feedcache`` (ETag, 304, gzip, one build per change),
``media`` (a lesson's play, poster and cover URLs that stay valid: they redirect to fresh
media grants), the feeds ``api`` (JSON, XML, OpenAPI), ``m3u`` and ``maccms`` (formatters)
with ``feed_views``, ``ui`` (the 10-foot pages), ``plays`` + ``play_api`` (play reports,
bounded like members' progress), ``activity`` + ``activity_views`` (station activity per
month, group sessions turned into offline credits), ``logs`` (keys masked in request logs).

The school decides what exists; this package only reads it (and writes tombstones when it
changes). Media is reached through grants it signs for subject ``d<device id>``.
"""

from __future__ import annotations

from flask import Flask

from dangxiao.tv.prefix import KeyPrefixMiddleware


def register(app: Flask) -> None:
    """Called by dangxiao.create_app: policy, device loader, the key prefix, hooks and blueprints."""
    from dangxiao import access
    from dangxiao.extensions import csrf
    from dangxiao.tv import (
        activity_views,
        admin_views,
        api,
        changes,
        devices,
        feed_views,
        logs,
        media,
        play_api,
        policy,  # noqa: F401 — registers "tv.*" rules
        prefix,
        ui,
    )

    app.wsgi_app = KeyPrefixMiddleware(app.wsgi_app)
    app.before_request_funcs.setdefault(None, []).insert(0, prefix.guard)
    access.device_loader(app, devices.load_device)
    changes.watch()
    logs.install()

    for module in (admin_views, api, media, feed_views, ui, play_api, activity_views):
        for blueprint, rows, exempt in module.BLUEPRINTS:
            access.register(app, blueprint, rows)
            if exempt:  # device endpoints: authenticated by key, no cookies, so no CSRF token either
                csrf.exempt(blueprint)
