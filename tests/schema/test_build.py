"""The schema's guard rails keep Strawberry's parse and validation caches effective and small."""

from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from api.settings import Settings
from schema.caches import CACHE_ENTRIES
from tests.conftest import Tenant


async def test_a_repeated_query_is_validated_once(tenant: Tenant) -> None:
    query = "query Repeated { project { id name } }"
    cache = _get_validate_cache(CACHE_ENTRIES)
    await tenant.gql(query)
    before = cache.cache_info()
    for _ in range(3):
        await tenant.gql(query)
    after = cache.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 3


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


async def test_long_queries_stay_out_of_the_caches(tenant: Tenant) -> None:
    """Each distinct long query would otherwise keep its text and document in memory."""
    limit = Settings().graphql_cache_max_query_length
    parse_cache = _get_parse_cache(CACHE_ENTRIES)
    validate_cache = _get_validate_cache(CACHE_ENTRIES)
    before = (parse_cache.cache_info(), validate_cache.cache_info())
    for index in range(3):
        padding = f"# {index} " + "x" * limit
        data = await tenant.gql(padding + "\nquery Padded { project { id } }")
        assert data["project"]["id"]
    after = (parse_cache.cache_info(), validate_cache.cache_info())
    for was, now in zip(before, after, strict=True):
        assert (now.hits, now.misses, now.currsize) == (was.hits, was.misses, was.currsize)
    assert parse_cache.cache_info().maxsize == CACHE_ENTRIES
