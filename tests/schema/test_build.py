"""The schema's guard rails keep Strawberry's parse and validation caches effective."""

from strawberry.extensions.validation_cache import _get_validate_cache

from tests.conftest import Tenant


async def test_a_repeated_query_is_validated_once(tenant: Tenant) -> None:
    query = "query Repeated { project { id name } }"
    cache = _get_validate_cache(1024)
    await tenant.gql(query)
    before = cache.cache_info()
    for _ in range(3):
        await tenant.gql(query)
    after = cache.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 3
