"""Apple Wallet passes: passbook's model (Pass, Coupon, StoreCard, Barcode, Field), pass.json,
the manifest, the detached PKCS#7 signature and the .pkpass archive, built with `cryptography`."""

import contextlib
import hashlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from delivery.wallet.certificates import SigningChain
from domain import codes
from domain.campaigns import Campaign
from domain.codes import Code, CodeStatus
from domain.customers import Customer
from domain.loyalty import LoyaltyCard
from domain.projects import Project
from domain.wallet import PassLocation
from templates import TemplateFiles

MEDIA_TYPE = "application/vnd.apple.pkpass"
MAX_LOCATIONS = 10
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
IMAGE_NAMES = (
    "icon.png",
    "icon@2x.png",
    "icon@3x.png",
    "logo.png",
    "logo@2x.png",
    "strip.png",
    "strip@2x.png",
)


def _clean(value: Any) -> Any:
    """Drops None, empty strings and empty lists and objects, at every depth: Wallet rejects
    passes with empty optional keys."""
    if isinstance(value, dict):
        cleaned = {key: _clean(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in (None, "", [], {})}
    if isinstance(value, list):
        items = [_clean(item) for item in value]
        return [item for item in items if item not in (None, "", [], {})]
    return value


class BarcodeFormat(StrEnum):
    QR = "PKBarcodeFormatQR"
    PDF417 = "PKBarcodeFormatPDF417"
    AZTEC = "PKBarcodeFormatAztec"
    CODE128 = "PKBarcodeFormatCode128"


@dataclass(frozen=True)
class Barcode:
    message: str
    format: BarcodeFormat = BarcodeFormat.QR
    alt_text: str = ""
    message_encoding: str = "iso-8859-1"

    def json(self) -> dict[str, Any]:
        return {
            "format": self.format.value,
            "message": self.message,
            "messageEncoding": self.message_encoding,
            "altText": self.alt_text,
        }


@dataclass(frozen=True)
class Field:
    key: str
    value: str | int | float
    label: str = ""
    # Shown on the lock screen when the value changes; must contain %@.
    change_message: str = ""
    date_style: str = ""
    text_alignment: str = ""

    def json(self) -> dict[str, Any]:
        if self.change_message and "%@" not in self.change_message:
            raise ValueError(f"changeMessage of {self.key} must contain %@")
        return {
            "key": self.key,
            "value": self.value,
            "label": self.label,
            "changeMessage": self.change_message,
            "dateStyle": self.date_style,
            "textAlignment": self.text_alignment,
        }


@dataclass
class PassStyle:
    """The fields of one pass style (passbook's PassInformation)."""

    style_key = "generic"
    header_fields: list[Field] = field(default_factory=list)
    primary_fields: list[Field] = field(default_factory=list)
    secondary_fields: list[Field] = field(default_factory=list)
    auxiliary_fields: list[Field] = field(default_factory=list)
    back_fields: list[Field] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        groups = {
            "headerFields": self.header_fields,
            "primaryFields": self.primary_fields,
            "secondaryFields": self.secondary_fields,
            "auxiliaryFields": self.auxiliary_fields,
            "backFields": self.back_fields,
        }
        every = [f.key for fields in groups.values() for f in fields]
        if len(every) != len(set(every)):
            raise ValueError("field keys must be unique within a pass")
        return {name: [f.json() for f in fields] for name, fields in groups.items()}


class Coupon(PassStyle):
    style_key = "coupon"


class StoreCard(PassStyle):
    style_key = "storeCard"


@dataclass
class Pass:
    style: PassStyle
    pass_type_identifier: str
    serial_number: str
    team_identifier: str
    organization_name: str
    description: str
    logo_text: str = ""
    background_color: str = ""
    foreground_color: str = ""
    label_color: str = ""
    barcodes: list[Barcode] = field(default_factory=list)
    web_service_url: str = ""
    authentication_token: str = ""
    expiration_date: datetime | None = None
    relevant_date: datetime | None = None
    voided: bool = False
    locations: list[PassLocation] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        if bool(self.web_service_url) != bool(self.authentication_token):
            raise ValueError("webServiceURL and authenticationToken go together")
        if self.authentication_token and len(self.authentication_token) < 16:
            raise ValueError("authenticationToken has at least 16 characters")
        body: dict[str, Any] = {
            "formatVersion": 1,
            "passTypeIdentifier": self.pass_type_identifier,
            "serialNumber": self.serial_number,
            "teamIdentifier": self.team_identifier,
            "organizationName": self.organization_name,
            "description": self.description,
            "logoText": self.logo_text,
            "backgroundColor": self.background_color,
            "foregroundColor": self.foreground_color,
            "labelColor": self.label_color,
            "barcodes": [barcode.json() for barcode in self.barcodes],
            "webServiceURL": self.web_service_url,
            "authenticationToken": self.authentication_token,
            "expirationDate": _iso(self.expiration_date),
            "relevantDate": _iso(self.relevant_date),
            # Only true is worth saying: false is the default.
            "voided": True if self.voided else None,
            "locations": [
                {
                    "latitude": location.latitude,
                    "longitude": location.longitude,
                    "relevantText": location.relevant_text,
                }
                for location in self.locations[:MAX_LOCATIONS]
            ],
            self.style.style_key: self.style.json(),
        }
        return dict(_clean(body))

    def json_bytes(self) -> bytes:
        return json.dumps(self.json(), ensure_ascii=False, separators=(",", ":")).encode()


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def manifest(files: dict[str, bytes]) -> bytes:
    """SHA-1 of every file in the archive but the manifest and the signature."""
    digests = {name: hashlib.sha1(data).hexdigest() for name, data in sorted(files.items())}  # noqa: S324
    return json.dumps(digests, separators=(",", ":"), sort_keys=True).encode()


def sign(manifest_bytes: bytes, chain: SigningChain) -> bytes:
    """Detached PKCS#7 (DER) over the exact manifest bytes, WWDR included, signing time set.
    Binary: without it LF would become CRLF before signing and the signature would not match."""
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest_bytes)
        .add_signer(chain.certificate, chain.key, hashes.SHA256())  # type: ignore[arg-type]
        .add_certificate(chain.wwdr)
        .sign(Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    )


def package(pass_json: bytes, images: dict[str, bytes], chain: SigningChain) -> bytes:
    """The .pkpass: pass.json, images, manifest.json and signature in one ZIP."""
    files = {"pass.json": pass_json, **images}
    return archive(files, manifest(files), chain)


def archive(files: dict[str, bytes], manifest_bytes: bytes, chain: SigningChain) -> bytes:
    """The ZIP of `files`, their manifest and a fresh signature of it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as written:
        for name, data in files.items():
            written.writestr(name, data)
        written.writestr("manifest.json", manifest_bytes)
        written.writestr("signature", sign(manifest_bytes, chain))
    return buffer.getvalue()


@lru_cache(maxsize=8)
def default_images(files: TemplateFiles) -> dict[str, bytes]:
    """The shipped images (passes/), or ENGAGE_TEMPLATES_DIR's; raises MissingTemplateFile."""
    return {name: files.read_bytes(f"passes/{name}") for name in IMAGE_NAMES}


def pass_images(files: TemplateFiles, project_id: str, data_dir: Path) -> dict[str, bytes]:
    """The default images, each replaced by the project's own file of the same name in
    <data_dir>/wallet/brands/<project id>/ when there is one."""
    images = dict(default_images(files))
    own = data_dir / "wallet" / "brands" / project_id
    if own.is_dir():
        for name in IMAGE_NAMES:
            path = own / name
            if path.is_file():
                images[name] = path.read_bytes()
    return images


def brand_images_stamp(project_id: str, data_dir: Path) -> str:
    """Size and modification time of each of the project's own image files: a replaced file
    changes it, so a download notices new images without reading them."""
    # Plain strings and os: this runs on every download, where pathlib's objects show.
    own = os.path.join(data_dir, "wallet", "brands", project_id)
    if not os.path.isdir(own):
        return ""
    stamps = []
    for name in IMAGE_NAMES:
        with contextlib.suppress(OSError):
            found = os.stat(os.path.join(own, name))
            stamps.append(f"{name}:{found.st_size}:{found.st_mtime_ns}")
    return ",".join(stamps)


def rgb(hex_color: str, default: str) -> str:
    """ "#f59e0b" -> "rgb(245, 158, 11)"."""
    value = hex_color if _HEX.match(hex_color or "") else default
    digits = value.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({red}, {green}, {blue})"


def _readable_on(background: str) -> str:
    """White text on dark brand colours, near-black on light ones."""
    red, green, blue = (int(part) for part in background[4:-1].split(","))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "rgb(17, 24, 39)" if luminance > 150 else "rgb(255, 255, 255)"


@dataclass(frozen=True)
class PassContext:
    """Service-wide values every pass needs."""

    pass_type_id: str
    team_id: str
    public_base_url: str
    serial: str
    authentication_token: str


def _brand(target: Pass, project: Project) -> Pass:
    """The project's name and colours on the pass."""
    brand = project.brand
    target.organization_name = brand.name or project.name
    target.logo_text = brand.name or project.name
    target.background_color = rgb(brand.primary_color, "#1f2937")
    target.foreground_color = _readable_on(target.background_color)
    target.label_color = rgb(brand.accent_color, "#f59e0b")
    return target


def _day(moment: datetime, timezone: str) -> str:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{local.day} {local:%B %Y}"


def coupon_status(code: Code, campaign: Campaign, now: datetime) -> tuple[str, bool]:
    """The status field's text and whether the pass is voided."""
    status = codes.code_status(code, campaign, now)
    if status == CodeStatus.REDEEMED:
        when = code.last_redeemed_at
        return (f"Redeemed on {_day(when, campaign.timezone)}" if when else "Redeemed"), True
    if status == CodeStatus.EXPIRED:
        return "Ended", True
    if status == CodeStatus.PAUSED:
        return "Paused", False
    if status == CodeStatus.NOT_STARTED:
        return "Not started yet", False
    return "Valid", False


def coupon_pass(
    context: PassContext, code: Code, campaign: Campaign, project: Project, now: datetime
) -> Pass:
    status_text, voided = coupon_status(code, campaign, now)
    offer = codes.offer_text(campaign.discount) or campaign.name
    style = Coupon(
        primary_fields=[Field("offer", offer, label=campaign.name)],
        secondary_fields=[
            Field("code", code.display or code.code, label="Code"),
            Field("status", status_text, label="Status", change_message="Coupon: %@"),
        ],
        auxiliary_fields=[
            Field(
                "expires",
                _iso(campaign.ends_at) or "",
                label="Expires",
                date_style="PKDateStyleMedium",
            )
        ]
        if campaign.ends_at
        else [],
    )
    left = codes.uses_left(code, campaign)
    if left is not None and campaign.limits.per_code and campaign.limits.per_code > 1:
        style.auxiliary_fields.append(
            Field("uses", left, label="Uses left", change_message="Uses left: %@")
        )
    style.back_fields = [
        Field("description", campaign.description, label="About"),
        Field("terms", campaign.terms, label="Terms and conditions"),
        Field("page", codes.coupon_url(context.public_base_url, code), label="Coupon page"),
    ]
    style.back_fields = [f for f in style.back_fields if f.value != ""]
    return _brand(
        Pass(
            style=style,
            pass_type_identifier=context.pass_type_id,
            serial_number=context.serial,
            team_identifier=context.team_id,
            description=f"{offer} coupon",
            barcodes=[Barcode(code.code, alt_text=code.display or code.code)],
            web_service_url=f"{context.public_base_url}/wallet",
            authentication_token=context.authentication_token,
            expiration_date=campaign.ends_at,
            voided=voided,
            locations=list(campaign.pass_locations),
            organization_name=project.name,
        ),
        project,
    )


def store_card_pass(
    context: PassContext,
    card: LoyaltyCard,
    program: Campaign,
    customer: Customer | None,
    project: Project,
) -> Pass:
    style = StoreCard(
        primary_fields=[
            Field("balance", card.balance, label="Points", change_message="You have %@ points")
        ],
        secondary_fields=[
            Field("tier", card.tier, label="Tier", change_message="Your tier is now %@"),
            Field(
                "member", customer.name if customer and not customer.erased else "", label="Member"
            ),
        ],
        back_fields=[
            Field("program", program.name, label="Program"),
            Field("description", program.description, label="About"),
            Field("terms", program.terms, label="Terms and conditions"),
        ],
    )
    style.secondary_fields = [f for f in style.secondary_fields if f.value != ""]
    style.back_fields = [f for f in style.back_fields if f.value != ""]
    member = card.customer_id
    return _brand(
        Pass(
            style=style,
            pass_type_identifier=context.pass_type_id,
            serial_number=context.serial,
            team_identifier=context.team_id,
            description=f"{program.name} card",
            # The till scans the member's id; the short form is what a cashier can type.
            barcodes=[Barcode(member, alt_text=member[-8:].upper())],
            web_service_url=f"{context.public_base_url}/wallet",
            authentication_token=context.authentication_token,
            voided=program.status.value == "ENDED",
            locations=list(program.pass_locations),
            organization_name=project.name,
        ),
        project,
    )
