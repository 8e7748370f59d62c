"""The API answers as docs/openapi.yaml says, for any input schemathesis generates."""

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.factories import make_petition, make_signature


def test_api_conforms_to_its_description(app):
    petition = make_petition(slug="demo")
    make_signature(petition)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.yaml", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the description lists no operation"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
        def conforms(case):
            case.call_and_validate()

        conforms()


def test_the_description_is_served_by_tribune(client):
    response = client.get("/api/v1/openapi.yaml")
    assert response.status_code == 200 and b"openapi: 3.0.3" in response.data
