"""The schema's guard rails keep the parse and validation caches effective and small."""

from strawberry.extensions.parser_cache import _get_parse_cache

from api.settings import Settings
from schema.caches import CACHE_ENTRIES, VALIDATED, ValidatedQueries
from tests.factories import Tenant


async def test_a_repeated_query_is_validated_once(tenant: Tenant) -> None:
    query = "query Repeated { project { id name } }"
    await tenant.gql(query)
    before = (VALIDATED.hits, VALIDATED.misses)
    for _ in range(3):
        await tenant.gql(query)
    assert (VALIDATED.hits, VALIDATED.misses) == (before[0] + 3, before[1])


async def test_a_repeated_query_is_parsed_once(tenant: Tenant) -> None:
    query = "query RepeatedParse { project { id } }"
    cache = _get_parse_cache(CACHE_ENTRIES)
    await tenant.gql(query)
    before = cache.cache_info()
    for _ in range(3):
        await tenant.gql(query)
    after = cache.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 3


async def test_an_invalid_query_is_not_cached_as_valid(tenant: Tenant) -> None:
    for _ in range(2):
        response = await tenant.gql.raw("query Invalid { project { noSuchField } }")
        assert response.json()["errors"]


async def test_long_queries_stay_out_of_the_caches(tenant: Tenant) -> None:
    """Each distinct long query would otherwise keep its text and document in memory."""
    limit = Settings().graphql_cache_max_query_length
    parse_cache = _get_parse_cache(CACHE_ENTRIES)
    parsed_before = parse_cache.cache_info()
    validated_before = (VALIDATED.hits, VALIDATED.misses, len(VALIDATED))
    for index in range(3):
        padding = f"# {index} " + "x" * limit
        data = await tenant.gql(padding + "\nquery Padded { project { id } }")
        assert data["project"]["id"]
    parsed_after = parse_cache.cache_info()
    assert (parsed_after.hits, parsed_after.misses, parsed_after.currsize) == (
        parsed_before.hits,
        parsed_before.misses,
        parsed_before.currsize,
    )
    assert (VALIDATED.hits, VALIDATED.misses, len(VALIDATED)) == validated_before
    assert parse_cache.cache_info().maxsize == VALIDATED.maxsize == CACHE_ENTRIES


def test_validated_queries_keep_the_most_recent_only() -> None:
    validated = ValidatedQueries(maxsize=2)
    validated.add("a")
    validated.add("b")
    assert "a" in validated  # "a" is now the most recent
    validated.add("c")
    assert len(validated) == 2
    assert "b" not in validated
    assert "a" in validated
    assert "c" in validated
