"""Schemathesis runs the station API against its own OpenAPI document, in process (WSGI).

Every generated request (valid and invalid parameters, bodies, garbage ETags) must get a status
the document lists and a body matching its schema — so the document and the views cannot
drift apart. Bounded: 30 examples per operation, SQLite only.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from dangxiao.tv.openapi import spec


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:  # the document is the same whatever the database
    return request.param


@pytest.fixture
def station_key(create_branch, make_device, make_course) -> str:
    branch = create_branch("南湖村党支部")
    _, key = make_device(branch)
    make_course(durations=(600.0, 900.0), title="学习党章", category="理论学习")
    make_course(durations=(300.0,), title="科学施肥", category="实用技术")
    return key


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_api_conforms_to_its_openapi_document(app, station_key, mode):
    # Driven through Hypothesis directly: schemathesis' pytest loader (from_fixture) does not run
    # on pytest 9, and the app is a per-test fixture.
    schema = schemathesis.openapi.from_wsgi("/api/tv/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == {
        "GET /api/tv/v1/catalog",
        "GET /api/tv/v1/catalog.xml",
        "POST /api/tv/v1/plays",
        "POST /api/tv/v1/plays/{token}",
    }
    for operation in operations:
        fuzz(operation, mode, station_key)


def fuzz(operation, mode: GenerationMode, key: str) -> None:
    """Up to 30 generated requests against one operation, each response checked against the document."""
    # A well-formed updated_since can still be refused (in the future: updated_since_future), which a
    # schema cannot say; every other valid request must be accepted.
    excluded = [checks.positive_data_acceptance] if operation.method == "get" else []

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        # identity: the in-process transport does not decode gzip (test_feed_views covers gzip)
        case.call_and_validate(headers={"X-Device-Key": key, "Accept-Encoding": "identity"}, excluded_checks=excluded)

    run()


def test_document_is_valid_openapi_and_lists_every_station_endpoint(app):
    document = spec(100)
    schemathesis.openapi.from_dict(document).validate()  # against the OpenAPI 3.0 meta-schema
    assert set(document["paths"]) == {
        "/api/tv/v1/catalog",
        "/api/tv/v1/catalog.xml",
        "/api/tv/v1/plays",
        "/api/tv/v1/plays/{token}",
    }
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/tv/v1/")}
    documented = {path.replace("{token}", "<token>") for path in document["paths"]}
    assert routes - {"/api/tv/v1/openapi.json"} == documented
