"""Apple passes as a device receives them: every kind unzipped, its manifest and signature checked
with openssl, its pass.json free of empty values; and the development chain made once."""

import asyncio
import hashlib
import io
import json
import subprocess
import threading
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from starlette.applications import Starlette

from api.settings import Settings
from delivery.wallet import apple, certificates
from delivery.wallet.signed_passes import SignedPassCache
from domain import links, loyalty, wallet
from domain.campaigns import Campaign
from domain.common import object_id
from domain.customer_lifecycle import create_customer
from domain.customers import CustomerInput
from domain.wallet import WalletPass
from tests.factories import Tenant

CREATE_CAMPAIGN = """
mutation ($input: CampaignInput!) {
  createCampaign(input: $input) { campaign { id } errors { code field message } }
}"""
REDEEM = """
mutation ($code: String!) {
  redeemCode(code: $code, idempotencyKey: "till-1") { redemption { id } errors { code } }
}"""


def unpack(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def manifest_problems(files: dict[str, bytes]) -> list[str]:
    """Every file but manifest and signature listed with its SHA-1, and nothing else."""
    listed = json.loads(files["manifest.json"])
    content = {n: d for n, d in files.items() if n not in ("manifest.json", "signature")}
    problems = [f"{name} missing from the manifest" for name in content if name not in listed]
    problems += [f"{name} listed but absent" for name in listed if name not in content]
    problems += [
        f"{name} hash differs"
        for name, data in content.items()
        if listed.get(name) != hashlib.sha1(data).hexdigest()  # noqa: S324
    ]
    return problems


def openssl_verifies(files: dict[str, bytes], root: Path, work: Path) -> bool:
    work.mkdir(parents=True, exist_ok=True)
    (work / "signature").write_bytes(files["signature"])
    (work / "manifest.json").write_bytes(files["manifest.json"])
    result = subprocess.run(
        [
            "openssl", "smime", "-verify", "-binary", "-inform", "DER",
            "-in", str(work / "signature"), "-content", str(work / "manifest.json"),
            "-CAfile", str(root), "-purpose", "any", "-out", "/dev/null",
        ],
        capture_output=True,
        check=False,
    )  # fmt: skip
    return result.returncode == 0


def empty_values(value: Any, path: str = "$") -> list[str]:
    """Paths of every null, empty string, empty list or empty object in the document."""
    if value is None or value in ("", [], {}):
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in empty_values(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in empty_values(item, f"{path}[{i}]")]
    return []


def fields_of(style: dict[str, Any]) -> dict[str, dict[str, Any]]:
    groups = ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields")
    return {f["key"]: f for group in groups for f in style.get(group, [])}


def check_pass(files: dict[str, bytes], settings: Settings, work: Path) -> dict[str, Any]:
    """The checks every pass must pass; returns its pass.json."""
    assert {"pass.json", "manifest.json", "signature", "icon.png", "icon@2x.png"} <= set(files)
    assert manifest_problems(files) == []
    root = certificates.development_directory(settings.data_dir) / certificates.ROOT_CERTIFICATE
    assert openssl_verifies(files, root, work)
    body = json.loads(files["pass.json"])
    assert empty_values(body) == []
    for key in ("passTypeIdentifier", "serialNumber", "teamIdentifier", "organizationName"):
        assert body[key]
    assert body["formatVersion"] == 1
    assert body["passTypeIdentifier"] == settings.apple_pass_type_id
    assert len([k for k in ("coupon", "storeCard", "generic") if k in body]) == 1
    assert body["webServiceURL"] == "http://testserver/wallet"
    assert len(body["authenticationToken"]) >= 16
    for field in fields_of(body.get("coupon") or body["storeCard"]).values():
        if "changeMessage" in field:
            assert "%@" in field["changeMessage"]
    return dict(body)


async def a_coupon(tenant: Tenant, **extra: Any) -> tuple[str, str]:
    """(campaign id, code) of a single-use 15% campaign with a standalone code."""
    data = {
        "name": "Spring",
        "discount": {"type": "PERCENT", "percentOff": 15},
        "standaloneCode": extra.pop("code", "SPRING15"),
        "limits": {"perCode": 1},
        "terms": "One per order.",
        "endsAt": "2099-06-30T22:00:00Z",
        **extra,
    }
    created = (await tenant.gql(CREATE_CAMPAIGN, {"input": data}))["createCampaign"]
    assert created["errors"] == []
    return created["campaign"]["id"], data["standaloneCode"]


async def download(http: httpx.AsyncClient, settings: Settings, tenant: Tenant, code: str) -> bytes:
    token = links.pass_link_token(settings.secret_key, tenant.project_id, code)
    response = await http.get(f"/passes/apple/{code}.pkpass", params={"token": token})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == apple.MEDIA_TYPE
    assert response.headers["last-modified"]
    return response.content


async def test_every_coupon_pass_is_signed_complete_and_clean(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    campaign_id, code = await a_coupon(tenant)
    active = check_pass(
        unpack(await download(http, settings, tenant, code)), settings, tmp_path / "a"
    )
    coupon = fields_of(active["coupon"])
    assert coupon["offer"]["value"] == "15% off"
    assert coupon["status"]["value"] == "Valid"
    assert "%@" in coupon["status"]["changeMessage"]
    assert coupon["terms"]["value"] == "One per order."
    assert coupon["page"]["value"] == f"http://testserver/c/{code}"
    assert active["barcodes"] == [
        {
            "format": "PKBarcodeFormatQR",
            "message": code,
            "messageEncoding": "iso-8859-1",
            "altText": code,
        }
    ]
    assert active["expirationDate"] == "2099-06-30T22:00:00Z"
    assert "voided" not in active and "locations" not in active
    assert active["backgroundColor"] == "rgb(31, 41, 55)"
    assert active["labelColor"] == "rgb(245, 158, 11)"

    # The same campaign with store locations: up to ten, each with its text.
    await Campaign.get_pymongo_collection().update_one(
        {"_id": object_id(campaign_id, "campaign")},
        {
            "$set": {
                "pass_locations": [
                    {"latitude": 52.52, "longitude": 13.405, "relevant_text": "Spring sale here"},
                    {"latitude": 48.8566, "longitude": 2.3522, "relevant_text": ""},
                ]
            }
        },
    )
    # As updateCampaign does after its write: the campaign's passes move.
    stored = await Campaign.get(object_id(campaign_id, "campaign"))
    assert stored is not None
    await wallet.campaign_passes_changed(
        tenant.project_id, campaign_id, starts_at=stored.starts_at, ends_at=stored.ends_at
    )
    located = check_pass(
        unpack(await download(http, settings, tenant, code)), settings, tmp_path / "l"
    )
    assert located["locations"] == [
        {"latitude": 52.52, "longitude": 13.405, "relevantText": "Spring sale here"},
        {"latitude": 48.8566, "longitude": 2.3522},
    ]
    assert located["serialNumber"] == active["serialNumber"]

    redeemed = await tenant.gql(REDEEM, {"code": code})
    assert redeemed["redeemCode"]["errors"] == []
    voided = check_pass(
        unpack(await download(http, settings, tenant, code)), settings, tmp_path / "v"
    )
    assert voided["voided"] is True
    assert fields_of(voided["coupon"])["status"]["value"].startswith("Redeemed on ")


async def test_store_card_carries_balance_tier_and_member(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    program = {
        "name": "Club",
        "kind": "LOYALTY",
        "loyalty": {"tiers": [{"name": "Gold", "threshold": 100, "multiplier": 1}]},
    }
    created = (await tenant.gql(CREATE_CAMPAIGN, {"input": program}))["createCampaign"]
    assert created["errors"] == []
    program_id = created["campaign"]["id"]
    customer = await create_customer(tenant.project_id, CustomerInput(name="Ada"), source="test")
    await loyalty.grant_points(
        project_id=tenant.project_id,
        campaign_id=program_id,
        customer_id=customer.key,
        points=150,
        key="welcome",
        reason="hi",
    )
    card = await loyalty.find_card(
        project_id=tenant.project_id, campaign_id=program_id, customer_id=customer.key
    )

    token = links.pass_link_token(
        settings.secret_key, tenant.project_id, links.card_pass_subject(card.key)
    )
    response = await http.get(f"/passes/apple/cards/{card.key}.pkpass", params={"token": token})
    assert response.status_code == 200, response.text
    body = check_pass(unpack(response.content), settings, tmp_path)
    fields = fields_of(body["storeCard"])
    assert fields["balance"]["value"] == 150
    assert fields["balance"]["changeMessage"] == "You have %@ points"
    assert fields["tier"]["value"] == "Gold"
    assert fields["member"]["value"] == "Ada"
    assert body["barcodes"][0]["message"] == customer.key
    assert "locations" not in body and "voided" not in body

    # A code's token does not open a card, nor a card's token another project's card.
    wrong = links.pass_link_token(settings.secret_key, tenant.project_id, card.key)
    refused = await http.get(f"/passes/apple/cards/{card.key}.pkpass", params={"token": wrong})
    assert refused.status_code == 403


async def test_a_changed_byte_breaks_the_manifest_or_the_signature(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    _, code = await a_coupon(tenant)
    files = unpack(await download(http, settings, tenant, code))
    root = certificates.development_directory(settings.data_dir) / certificates.ROOT_CERTIFICATE
    assert openssl_verifies(files, root, tmp_path / "ok")

    tampered = dict(files)
    tampered["pass.json"] = files["pass.json"].replace(b"15% off", b"95% off")
    assert tampered["pass.json"] != files["pass.json"]
    # pass.json alone: the manifest no longer describes it.
    assert manifest_problems(tampered) == ["pass.json hash differs"]
    # Re-hashed into the manifest: now the signature no longer covers the manifest.
    tampered["manifest.json"] = apple.manifest(
        {n: d for n, d in tampered.items() if n not in ("manifest.json", "signature")}
    )
    assert manifest_problems(tampered) == []
    assert not openssl_verifies(tampered, root, tmp_path / "bad")

    # One byte of the signature itself, too.
    broken = dict(files)
    signature = bytearray(files["signature"])
    signature[-10] ^= 0x01
    broken["signature"] = bytes(signature)
    assert not openssl_verifies(broken, root, tmp_path / "sig")


async def test_downloads_need_the_link_token_or_the_owner(
    http: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, settings: Settings
) -> None:
    _, code = await a_coupon(tenant)
    assert (
        await http.get("/passes/apple/NOSUCHCODE.pkpass", params={"token": "x"})
    ).status_code == 404
    assert (
        await http.get(f"/passes/apple/{code}.pkpass", params={"token": "x"})
    ).status_code == 403
    assert (await http.get(f"/passes/apple/{code}.pkpass")).status_code == 403
    # Another project's token for the same code text opens nothing here.
    foreign = links.pass_link_token(settings.secret_key, other_tenant.project_id, code)
    answer = await http.get(f"/passes/apple/{code}.pkpass", params={"token": foreign})
    assert answer.status_code == 403

    # The same code text in another project: each link opens its own project's pass.
    await a_coupon(other_tenant, name="Other spring")
    mine = unpack(await download(http, settings, tenant, code))
    theirs = unpack(await download(http, settings, other_tenant, code))
    assert (
        json.loads(mine["pass.json"])["serialNumber"]
        != json.loads(theirs["pass.json"])["serialNumber"]
    )


def test_the_development_chain_is_made_once_even_by_racing_starts(tmp_path: Path) -> None:
    made: list[Path] = []

    def start() -> None:
        made.append(
            certificates.ensure_development_chain(tmp_path, "pass.dev.engage.local", "ENGAGEDEV1")
        )

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    directory = certificates.development_directory(tmp_path)
    assert set(made) == {directory}
    # No staging directories left behind, one chain in place.
    assert sorted(p.name for p in directory.parent.iterdir()) == ["apple"]
    first = (directory / certificates.PASS_CERTIFICATE).read_bytes()
    certificates.ensure_development_chain(tmp_path, "pass.dev.engage.local", "ENGAGEDEV1")
    assert (directory / certificates.PASS_CERTIFICATE).read_bytes() == first

    certificate = x509.load_pem_x509_certificate(first)
    wwdr = x509.load_pem_x509_certificate((directory / certificates.WWDR_CERTIFICATE).read_bytes())
    subject = certificate.subject.rfc4514_string()
    assert "Engage Development Pass Type ID: pass.dev.engage.local" in subject
    assert "UID=pass.dev.engage.local" in subject
    assert certificate.issuer == wwdr.subject
    assert "Engage Development WWDR" in wwdr.subject.rfc4514_string()
    # Private keys are readable by their owner only.
    assert (directory / certificates.PASS_KEY).stat().st_mode & 0o077 == 0


def test_configured_certificates_are_used_instead_of_the_development_chain(
    tmp_path: Path,
) -> None:
    made = certificates.ensure_development_chain(tmp_path / "elsewhere", "pass.x.y", "TEAM")
    settings = Settings(
        mongodb_uri="mongodb://unused",
        data_dir=tmp_path / "var",
        apple_pass_certificate=made / certificates.PASS_CERTIFICATE,
        apple_pass_key=made / certificates.PASS_KEY,
        apple_wwdr_certificate=made / certificates.WWDR_CERTIFICATE,
    )
    chain = certificates.signing_chain(settings)
    assert not chain.development and chain.root_file is None
    assert not certificates.development_directory(settings.data_dir).exists()
    signature = apple.sign(b'{"pass.json":"00"}', chain)
    assert signature[:1] == b"\x30"  # a DER SEQUENCE
    assert settings.apns_configured and not Settings(mongodb_uri="x").apns_configured


@pytest.mark.parametrize(
    ("hex_color", "expected"),
    [("#fff", "rgb(255, 255, 255)"), ("#1F2937", "rgb(31, 41, 55)"), ("nonsense", "rgb(0, 0, 0)")],
)
def test_brand_colours_become_rgb(hex_color: str, expected: str) -> None:
    assert apple.rgb(hex_color, "#000000") == expected


UPDATE_LOCATIONS = """
mutation ($id: ID!, $input: CampaignInput!) {
  updateCampaign(id: $id, input: $input) {
    campaign { passLocations { latitude longitude relevantText } } errors { code field }
  }
}"""


async def test_pass_locations_are_set_over_graphql_checked_and_carried_by_the_pass(
    http: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    campaign_id, code = await a_coupon(tenant)
    store = {"latitude": 48.8606, "longitude": 2.3376, "relevantText": "Our Louvre shop"}
    changed = await tenant.gql(
        UPDATE_LOCATIONS, {"id": campaign_id, "input": {"passLocations": [store]}}
    )
    assert changed["updateCampaign"] == {"campaign": {"passLocations": [store]}, "errors": []}
    body = json.loads(unpack(await download(http, settings, tenant, code))["pass.json"])
    assert body["locations"] == [
        {"latitude": 48.8606, "longitude": 2.3376, "relevantText": "Our Louvre shop"}
    ]

    wrong = {"latitude": 91, "longitude": 2, "relevantText": "x" * 201}
    refused = await tenant.gql(
        UPDATE_LOCATIONS, {"id": campaign_id, "input": {"passLocations": [store] * 10 + [wrong]}}
    )
    fields = {error["field"] for error in refused["updateCampaign"]["errors"]}
    assert fields == {"passLocations", "passLocations.10"}
    assert (await Campaign.get_pymongo_collection().find_one({}))["pass_locations"] == [
        {"latitude": 48.8606, "longitude": 2.3376, "relevant_text": "Our Louvre shop"}
    ]

    cleared = await tenant.gql(
        UPDATE_LOCATIONS, {"id": campaign_id, "input": {"passLocations": []}}
    )
    assert cleared["updateCampaign"]["campaign"]["passLocations"] == []
    body = json.loads(unpack(await download(http, settings, tenant, code))["pass.json"])
    assert "locations" not in body


UPDATE_BRAND = """
mutation ($input: BrandInput!) { updateBrand(input: $input) { errors { code field message } } }"""


async def test_an_unchanged_pass_is_signed_once_and_a_changed_one_again(
    http: httpx.AsyncClient, app: Starlette, tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    cache: SignedPassCache = app.state.signed_passes
    _, code = await a_coupon(tenant)
    signed = cache.signings
    # Concurrent first downloads of one version share a single signing.
    first, *others = await asyncio.gather(
        *(download(http, settings, tenant, code) for _ in range(4))
    )
    assert cache.signings == signed + 1
    assert all(other == first for other in others)
    valid = check_pass(unpack(first), settings, tmp_path / "first")

    # A repeat download and PassKit's request 3 of the same content: no signing, same bytes.
    assert await download(http, settings, tenant, code) == first
    stored = await WalletPass.find_one({"project_id": tenant.project_id})
    assert stored is not None
    latest = f"/wallet/v1/passes/{settings.apple_pass_type_id}/{stored.serial}"
    device = {"Authorization": f"ApplePass {valid['authenticationToken']}"}
    fetched = await http.get(latest, headers=device)
    assert fetched.status_code == 200 and fetched.content == first
    unchanged = await http.get(
        latest, headers={**device, "If-Modified-Since": fetched.headers["last-modified"]}
    )
    assert unchanged.status_code == 304
    assert cache.signings == signed + 1

    # Redeemed: new content, signed again, and a device holding the old one is not told 304.
    assert (await tenant.gql(REDEEM, {"code": code}))["redeemCode"]["errors"] == []
    redeemed = await http.get(
        latest, headers={**device, "If-Modified-Since": fetched.headers["last-modified"]}
    )
    assert redeemed.status_code == 200
    assert cache.signings == signed + 2
    assert check_pass(unpack(redeemed.content), settings, tmp_path / "redeemed")["voided"] is True
    assert await download(http, settings, tenant, code) == redeemed.content
    assert cache.signings == signed + 2

    # The brand changed: its name and colours are on the pass, so it is signed again.
    changed = await tenant.gql(UPDATE_BRAND, {"input": {"name": "Spring Shop"}})
    assert changed["updateBrand"]["errors"] == []
    rebranded = check_pass(
        unpack(await download(http, settings, tenant, code)), settings, tmp_path / "brand"
    )
    assert rebranded["organizationName"] == "Spring Shop"
    assert cache.signings == signed + 3


async def test_the_signed_pass_cache_keeps_to_its_bounds(
    settings: Settings, tmp_path: Path
) -> None:
    chain = certificates.signing_chain(settings)
    images = apple.default_images(settings.template_files)

    def pass_json(serial: str, version: int = 1) -> bytes:
        return json.dumps({"serialNumber": serial, "version": version}).encode()

    cache = SignedPassCache(max_entries=2, max_bytes=10 * 1024 * 1024)
    for serial in ("a", "b", "c"):
        await cache.pkpass(serial=serial, pass_json=pass_json(serial), images=images, chain=chain)
    assert len(cache) == 2 and cache.signings == 3
    # "b" and "c" are held; "a", the least recently used, went and is signed again.
    await cache.pkpass(serial="b", pass_json=pass_json("b"), images=images, chain=chain)
    assert cache.signings == 3
    again = await cache.pkpass(serial="a", pass_json=pass_json("a"), images=images, chain=chain)
    assert cache.signings == 4 and len(cache) == 2
    assert check_pass_signature(unpack(again), settings, tmp_path / "again")
    # A new version of a pass replaces its old archive rather than sitting beside it.
    await cache.pkpass(serial="a", pass_json=pass_json("a", 2), images=images, chain=chain)
    assert cache.signings == 5 and len(cache) == 2

    one_archive = len(again)
    small = SignedPassCache(max_entries=100, max_bytes=one_archive * 3 // 2)
    for serial in ("a", "b", "c"):
        await small.pkpass(serial=serial, pass_json=pass_json(serial), images=images, chain=chain)
    assert len(small) == 1 and 0 < small.held_bytes <= small.max_bytes


def check_pass_signature(files: dict[str, bytes], settings: Settings, work: Path) -> bool:
    root = certificates.development_directory(settings.data_dir) / certificates.ROOT_CERTIFICATE
    return manifest_problems(files) == [] and openssl_verifies(files, root, work)
