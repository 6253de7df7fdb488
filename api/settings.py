"""Engage settings, read from ENGAGE_* environment variables."""

from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Signs customer-facing tokens in development only; production must set its own.
DEVELOPMENT_SECRET_KEY = "engage-development-secret-do-not-use-in-production"  # noqa: S105
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENGAGE_", extra="ignore")

    env: Literal["development", "production"] = "development"
    mongodb_uri: str | None = None
    database: str = "engage"
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEVELOPMENT_SECRET_KEY
    templates_dir: Path = PROJECT_ROOT / "templates"
    # The GraphiQL page on GET /graphql; unset: on in development, off in production.
    graphiql: bool | None = None
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 15
    graphql_max_tokens: int = 2000
    # Request bounds, checked before anything is parsed. 512 KiB holds addSegmentMembers'
    # 10,000 ids; a larger POST /graphql body is refused with 413.
    graphql_max_body_bytes: int = 512 * 1024
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

    @field_validator("google_issuer_id")
    @classmethod
    def _numeric_issuer_id(cls, value: str) -> str:
        if not value.isdigit():
            raise ValueError("ENGAGE_GOOGLE_ISSUER_ID is the numeric issuer id Google gave")
        return value

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> "Settings":
        if self.env == "production":
            if self.secret_key == DEVELOPMENT_SECRET_KEY or len(self.secret_key) < 32:
                raise ValueError(
                    "ENGAGE_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production"
                )
            if not self.mongodb_uri:
                raise ValueError("ENGAGE_MONGODB_URI must be set in production")
        return self

    @property
    def graphiql_enabled(self) -> bool:
        if self.graphiql is not None:
            return self.graphiql
        return self.env == "development"

    @property
    def public_base_url(self) -> str:
        return self.base_url.rstrip("/")

    @property
    def sink_dir(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

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
