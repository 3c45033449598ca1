"""Schemathesis hooks for scripts/schemathesis.sh."""

import schemathesis

# POST /api/v1/ingest/{machine}/{session} takes transcript lines as
# application/x-ndjson, which schemathesis has no serializer for: the body is text.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
