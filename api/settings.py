"""Engage settings, read from ENGAGE_* environment variables."""

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.rate_limits import parse_rates
from templates import TemplateFiles

# Without ENGAGE_SECRET_KEY, development signs links with a random key kept in this file under
# the data directory, made on first use; production must set its own.
DEVELOPMENT_SECRET_FILE = "secret-key"  # noqa: S105 (a file name)
MIN_SECRET_LENGTH = 32
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def development_secret(data_dir: Path) -> str:
    """The random key kept under `data_dir`, written on first use (readable by its owner only)."""
    path = data_dir / DEVELOPMENT_SECRET_FILE
    if path.is_file():
        secret = path.read_text().strip()
        if len(secret) >= MIN_SECRET_LENGTH:
            return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # Created with its final mode, so the key is never readable by others, even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    return secret


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENGAGE_", extra="ignore")
    _generated_secret: bool = PrivateAttr(default=False)

    env: Literal["development", "production"] = "development"
    mongodb_uri: str | None = None
    database: str = "engage"
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    # API processes `engage serve` runs on the port (uvicorn's workers), all on one database.
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    base_url: str = "http://127.0.0.1:8000"
    # Signs customer-facing links and tokens; empty in development: see DEVELOPMENT_SECRET_FILE.
    secret_key: str = ""
    # After a rotation, the key before: projects' provider secrets sealed under it still open
    # (setting them again seals them under the current key).
    previous_secret_key: str = ""
    # A folder whose files replace the shipped templates and pass images of the same path
    # (pages/coupon.html, email/coupon.html, passes/logo.png, ...); unset: the shipped ones.
    templates_dir: Path | None = None
    # The GraphiQL page on GET /graphql; unset: on in development, off in production.
    graphiql: bool | None = None
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 15
    graphql_max_tokens: int = 2000
    # Request bounds, checked before anything is parsed. 512 KiB holds addSegmentMembers'
    # 10,000 ids; a larger POST /graphql body is refused with 413.
    graphql_max_body_bytes: int = 512 * 1024
    # An import file's size (importCustomers/importOrders, `engage import`): a multipart POST
    # /graphql from an admin key may carry this much more than graphql_max_body_bytes.
    import_max_bytes: int = 64 * 1024 * 1024
    # Characters in a query document; a longer one is refused before the parser sees it.
    graphql_max_query_length: int = 20_000
    # Only documents up to this many characters enter the parse and validation caches.
    graphql_cache_max_query_length: int = 2_000
    # Nesting of objects and lists in `variables`.
    graphql_max_variables_depth: int = 20
    # Bodies of the Twilio hooks and the PassKit log endpoint; larger ones get 413.
    hook_max_body_bytes: int = 64 * 1024
    # Where /r/<code> sends a visitor whose code is unknown; empty: the not-found page.
    referral_fallback_url: str = ""
    demo_project: bool = True
    run_jobs: bool = True
    # The outbox worker inside `engage serve`; `engage worker` runs it on its own.
    run_worker: bool = True
    worker_concurrency: int = 8
    # A worker that dies holding messages hands them on after this long.
    worker_lease_seconds: float = 60.0
    # Where sandbox projects, and channels with no provider configured, deliver: .eml files
    # and an SMS log under <data_dir>/outbox.
    outbox_dir: Path | None = None

    # Email over SMTP; without a host, email goes to the outbox sink.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: float = 30.0
    email_from: str = "Engage <no-reply@localhost>"

    # SMS through Twilio; without an account, SMS goes to the outbox sink.
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    # Points the Twilio SDK at another host speaking Twilio's API (a regional proxy, a test server).
    twilio_api_url: str = ""
    twilio_timeout_seconds: float = 30.0
    sms_max_segments: int = 3

    # Apple Wallet: the Pass Type ID certificate and key and Apple's WWDR intermediate (PEM
    # files). With none set, a development chain is made under <data_dir>/wallet/dev: passes are
    # signed and verifiable, but no iPhone trusts them and Apple's push service refuses it.
    apple_pass_type_id: str = "pass.dev.engage.local"  # noqa: S105 (an identifier)
    apple_team_id: str = "ENGAGEDEV1"
    apple_pass_certificate: Path | None = None
    apple_pass_key: Path | None = None
    apple_pass_key_password: str = ""
    apple_wwdr_certificate: Path | None = None
    # Signed .pkpass archives kept in memory per process, one per pass, re-signed when the
    # pass's content changes; the least recently downloaded go first past either bound.
    apple_pass_cache_entries: int = Field(default=2_000, ge=1)
    apple_pass_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    # APNs; set it (e.g. to a test server) to push with the development chain as well.
    apns_url: str = ""
    # Trusts this CA for the APNs server (a test server); empty: the system's CAs.
    apns_ca_file: Path | None = None
    apns_timeout_seconds: float = 10.0

    # Google Wallet. The issuer id comes from the Google Pay & Wallet console; without a
    # service-account key file a development key is generated under <data_dir>/wallet/dev and
    # object updates go to the outbox sink.
    google_issuer_id: str = "3388000000000000000"
    google_service_account_file: Path | None = None
    # Sites allowed to show the save button (the JWT's `origins`); empty: base_url's origin.
    google_wallet_origins: list[str] = []
    # Points the Wallet API client at another host (a test server); empty: Google's.
    google_api_url: str = ""
    google_timeout_seconds: float = 30.0

    # The official "Add to Apple Wallet" / "Add to Google Wallet" badge files the operator
    # installed (see README); unset: <data_dir>/wallet/badges. Without them, plain buttons.
    wallet_badges_dir: Path | None = None

    # Guessing limits. Counters live in the database, so every API process shares them; rates
    # are `limits` strings ("600/minute", or several: "10/second;600/minute"), in attempt units.
    rate_limit_enabled: bool = True
    # validateCode, redeemCode and code(code) per API key: one unit for a found code.
    rate_limit_code_attempts_per_key: str = "600/minute"
    # The same attempts per client address, whatever the key (several tills behind one NAT).
    rate_limit_code_attempts_per_address: str = "1200/minute"
    # Coupon pages, pass downloads, referral and unsubscribe links, per client address.
    rate_limit_public_per_address: str = "120/minute"
    # Apple PassKit device logs (POST /wallet/v1/log), per client address.
    rate_limit_wallet_log_per_address: str = "60/minute"
    # Twilio status and inbound hooks, per client address (Twilio sends from a few addresses).
    rate_limit_hooks_per_address: str = "12000/minute"
    # Tills finding a customer by exact email, phone or shop id, per API key and per client
    # address: a lookup that matches nobody costs rate_limit_wrong_code_cost units.
    rate_limit_customer_lookups_per_key: str = "60/minute;2000/day"
    rate_limit_customer_lookups_per_address: str = "120/minute;4000/day"
    # Photos of QR codes read for tills without BarcodeDetector (POST /pos/scan), per address.
    rate_limit_pos_scans_per_address: str = "60/minute"
    # Console sign-in: every wrong password counts against the email and the client address;
    # past the first rate the sign-in is refused until the window ends (slowed), past the
    # second it stays refused for the hour (locked out). A right password costs nothing.
    rate_limit_console_sign_in_per_email: str = "5/minute;20/hour"
    rate_limit_console_sign_in_per_address: str = "20/minute;100/hour"
    # Units an unknown code (or a link whose token does not open it) costs; a found one costs 1.
    rate_limit_wrong_code_cost: int = Field(default=5, ge=1)
    # Proxies in front of Engage that each append to X-Forwarded-For; 0 ignores the header,
    # which any client can forge.
    trusted_proxy_hops: int = Field(default=0, ge=0)

    @field_validator(
        "rate_limit_code_attempts_per_key",
        "rate_limit_code_attempts_per_address",
        "rate_limit_public_per_address",
        "rate_limit_wallet_log_per_address",
        "rate_limit_hooks_per_address",
        "rate_limit_customer_lookups_per_key",
        "rate_limit_customer_lookups_per_address",
        "rate_limit_pos_scans_per_address",
        "rate_limit_console_sign_in_per_email",
        "rate_limit_console_sign_in_per_address",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_rates(value)
        except ValueError as error:
            raise ValueError(
                f"{value!r} is not a rate such as '600/minute' or '10/second;600/minute'"
            ) from error
        return value

    @field_validator("google_issuer_id")
    @classmethod
    def _numeric_issuer_id(cls, value: str) -> str:
        if not value.isdigit():
            raise ValueError("ENGAGE_GOOGLE_ISSUER_ID is the numeric issuer id Google gave")
        return value

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> "Settings":
        if self.env == "production":
            if len(self.secret_key) < MIN_SECRET_LENGTH:
                raise ValueError(
                    "ENGAGE_SECRET_KEY must be set to a random value of at least "
                    f"{MIN_SECRET_LENGTH} characters in production"
                )
            if not self.mongodb_uri:
                raise ValueError("ENGAGE_MONGODB_URI must be set in production")
            if not self.base_url.startswith("https://"):
                # Apple refuses a pass whose webServiceURL is not https, and links carry tokens.
                raise ValueError("ENGAGE_BASE_URL must be an https:// address in production")
        elif not self.secret_key:
            self.secret_key = development_secret(self.data_dir)
            self._generated_secret = True
        return self

    @property
    def uses_development_secret(self) -> bool:
        """The key was generated under the data directory rather than given."""
        return self._generated_secret

    @property
    def graphiql_enabled(self) -> bool:
        if self.graphiql is not None:
            return self.graphiql
        return self.env == "development"

    @property
    def public_base_url(self) -> str:
        return self.base_url.rstrip("/")

    @property
    def template_files(self) -> TemplateFiles:
        return TemplateFiles(self.templates_dir)

    @property
    def sink_dir(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    @property
    def badges_dir(self) -> Path:
        return self.wallet_badges_dir or self.data_dir / "wallet" / "badges"

    @property
    def apple_certificates_configured(self) -> bool:
        return bool(
            self.apple_pass_certificate and self.apple_pass_key and self.apple_wwdr_certificate
        )

    @property
    def apns_endpoint(self) -> str:
        return (self.apns_url or "https://api.push.apple.com").rstrip("/")

    @property
    def apns_configured(self) -> bool:
        """The development chain cannot reach Apple: pushes are sunk unless told where to go."""
        return self.apple_certificates_configured or bool(self.apns_url)

    @property
    def email_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def sms_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)

    @property
    def google_configured(self) -> bool:
        """Only a real service-account key talks to Google; the development key never does."""
        return self.google_service_account_file is not None
