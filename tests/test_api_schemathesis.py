"""Property-based run of the OpenAPI schema (schemathesis) against the real warehouse: no 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from targetkg.service.app import create_app

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case, warehouse):
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
