"""The REST checkout API under /v1: what a till or a checkout calls, over the same domain
functions, roles, limits and error codes as GraphQL, described at /v1/openapi.json."""
