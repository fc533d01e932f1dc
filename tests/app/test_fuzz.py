"""Property-based fuzzing of every operation in the OpenAPI schema with schemathesis, in process.

Schemathesis generates requests from the schema (positive and negative) and runs its checks on
each answer: no 5xx, status codes, content types and bodies as documented, schema-valid requests
accepted and invalid ones refused. A schema cannot say "a decodable image", so the generated
`file` part is replaced, in positive cases, by a real image (which must then be accepted) or a
hostile upload (which may be refused); negative cases go out as generated.
"""

import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation import GenerationMode

from app.core.config import Settings
from app.main import create_app
from tests.hostile import cases, expected

# The app's own schema, served in process; its lifespan (models) runs once, on loading.
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings()))


def _uploads() -> st.SearchStrategy[tuple[bytes, bool] | None]:
    """(file bytes, must be accepted) from the hostile catalogue, random bytes, or None."""
    readable = [c.upload for c in cases() if c.upload is not None and expected(c.expect, 200)]
    refused = [c.upload for c in cases() if c.upload is not None and not expected(c.expect, 200)]
    return st.one_of(
        st.none(),  # keep the generated value
        st.sampled_from(readable).map(lambda d: (d, True)),
        st.sampled_from(refused).map(lambda d: (d, False)),
        st.binary(max_size=4096).map(lambda d: (d, False)),
    )


@schema.parametrize()
@schema.given(upload=_uploads())
# Small and bounded (a few seconds on two busy cores); no example database left on disk;
# derandomised so every run tries the same examples.
@settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(
    case: schemathesis.Case, upload: tuple[bytes, bool] | None
) -> None:
    must_accept = False
    positive = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
    if positive and isinstance(case.body, dict) and upload is not None:
        case.body["file"], must_accept = upload
    # A generated `file` is schema-valid but rarely an image: refusing it (415) is right.
    case.call_and_validate(excluded_checks=[] if must_accept else [positive_data_acceptance])
