"""Apple passes: signed .pkpass downloads per second from a real `engage serve`, first
downloads (each signs a new pass) apart from repeat downloads of unchanged passes (served from
the signed-pass cache), beside the bare cost of signing the same manifest with `cryptography`;
and wallet pushes per second through the outbox worker to a local HTTP/2 stand-in for APNs,
beside bare HTTP/2 posts to it.

Run: .venv/bin/python -m bench.passes [--passes 300] [--repeats 3000] [--pushes 1000]
     [--concurrency 16] [--workers 1]
Uses --mongodb-uri or ENGAGE_MONGODB_URI, else an embedded database of its own. A repeat
download of an unchanged pass makes two database round trips: the public rate limit taken, and
the pass record read by the code in the link (its tag says which signed archive is current). A
first download also reads the code, its campaign and the project, and records the pass.
"""

import asyncio
import io
import os
import tempfile
import uuid
import zipfile
from pathlib import Path

from api.database import init_database, make_client
from api.settings import Settings, development_secret
from bench._harness import (
    LeanClient,
    arguments,
    client_line,
    database,
    engage_service,
    measure,
    print_comparison,
)
from delivery.wallet import apns, apple, certificates
from delivery.worker import OutboxWorker
from domain import links
from domain.campaigns import Campaign, Discount, DiscountType
from domain.codes import Code
from domain.messages import Message, MessageChannel, MessageStatus
from domain.projects import Project
from tests.delivery.fake_apns import FakeApns

# Repeat downloads cycle over this many passes, each downloaded before.
REPEATED_PASSES = 50


async def prepare(uri: str, name: str, count: int) -> tuple[str, list[str]]:
    """A campaign with `count` codes in the project `engage_service` made; returns the project
    id and the codes."""
    client = make_client(uri)
    await init_database(client, name)
    project = await Project.find_one({"name": "bench"})
    assert project is not None
    campaign = Campaign(
        project_id=project.key,
        name="bench",
        discount=Discount(type=DiscountType.PERCENT, percent_off=10),
        terms="Benchmark terms.",
    )
    await campaign.insert()
    codes = [f"BENCHPASS{i:05d}" for i in range(count)]
    await Code.insert_many(
        [
            Code(project_id=project.key, code=code, display=code, campaign_id=campaign.key)
            for code in codes
        ]
    )
    await client.close()
    return project.key, codes


async def signed_passes(
    uri: str, count: int, repeats: int, concurrency: int, workers: int, data_dir: Path
) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    # The service makes its development chain here, where the floor below reads it.
    os.environ["ENGAGE_DATA_DIR"] = str(data_dir)
    with engage_service(uri, name, workers=workers) as (base, _key):
        project_id, codes = await prepare(uri, name, count)
        secret = development_secret(data_dir)
        paths = [
            f"/passes/apple/{code}.pkpass?token={links.pass_link_token(secret, project_id, code)}"
            for code in codes
        ]
        async with LeanClient(base, connections=concurrency) as http:
            client = client_line(http)
            manifest_bytes = b""

            async def download(path: str) -> None:
                nonlocal manifest_bytes
                response = await http.get(path)
                assert response.status_code == 200, response.content[:200]
                if not manifest_bytes:
                    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                        manifest_bytes = archive.read("manifest.json")

            async def first(i: int) -> None:
                await download(paths[i])

            async def repeat(i: int) -> None:
                await download(paths[i % min(REPEATED_PASSES, len(paths))])

            firsts = await measure("first GET .pkpass (signs)", count, concurrency, first)
            repeated = await measure("repeat GET .pkpass (unchanged)", repeats, concurrency, repeat)
    settings = Settings(mongodb_uri=uri, data_dir=data_dir)
    chain = certificates.signing_chain(settings)

    async def sign(i: int) -> None:
        apple.sign(manifest_bytes, chain)

    floor = await measure("cryptography PKCS7 sign of its manifest", repeats, 1, sign)
    client_db = make_client(uri)
    await client_db.drop_database(name)
    await client_db.close()
    served_by = f"engage serve --workers {workers}" if workers > 1 else "engage serve"
    print(
        f"{count} passes downloaded once each, then {repeats} repeat downloads of "
        f"{REPEATED_PASSES} of them; {concurrency} connections to {served_by}"
    )
    print(client)
    print_comparison(firsts, floor)
    print_comparison(repeated, floor)


async def pushes(uri: str, count: int, concurrency: int, data_dir: Path) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    chain_dir = certificates.ensure_development_chain(data_dir, "pass.dev.engage.local", "BENCH")
    with FakeApns(chain_dir, data_dir / "apns") as server:
        settings = Settings(
            mongodb_uri=uri, database=name, data_dir=data_dir, **server.settings()
        ).model_copy(update={"worker_concurrency": concurrency})
        client = make_client(uri)
        await init_database(client, name)
        project = Project(name="bench")
        await project.insert()
        await Message.insert_many(
            [
                Message(
                    project_id=project.key,
                    channel=MessageChannel.APPLE_PUSH,
                    to=f"token-{i}",
                    payload={"serial": "s", "registration_id": "0" * 24, "tag": i},
                )
                for i in range(count)
            ]
        )
        worker = OutboxWorker(settings, concurrency=concurrency)

        async def one(i: int) -> None:
            # Each call leases and sends whichever message is due first.
            await worker.run_one()

        ours = await measure("outbox APPLE_PUSH -> HTTP/2 APNs", count, concurrency, one)
        sent = await Message.find({"status": MessageStatus.SENT.value, "sink": False}).count()
        assert sent == count and len(server.received()) == count, (sent, len(server.received()))
        http = apns.client_for(settings)

        async def post(i: int) -> None:
            response = await http.post(
                f"{server.url}/3/device/floor-{i}",
                content=b"{}",
                headers={"apns-topic": "pass.dev.engage.local"},
            )
            assert response.status_code == 200

        floor = await measure("bare httpx HTTP/2 POST", count, concurrency, post)
        await apns.close_clients()
        await client.drop_database(name)
        await client.close()
    print(f"{count} wallet pushes, {concurrency} concurrent senders, each leased and settled")
    print_comparison(ours, floor)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--passes", type=int, default=300, help="first downloads")
    parser.add_argument("--repeats", type=int, default=3_000, help="repeat downloads")
    parser.add_argument("--pushes", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="engage serve --workers")
    args = parser.parse_args()
    with database(args.mongodb_uri) as uri, tempfile.TemporaryDirectory() as run_dir:
        data_dir = Path(run_dir)
        asyncio.run(
            signed_passes(uri, args.passes, args.repeats, args.concurrency, args.workers, data_dir)
        )
        asyncio.run(pushes(uri, args.pushes, args.concurrency, data_dir))


if __name__ == "__main__":
    main()
