"""`engage import customers|orders FILE` as a real process against the service's database."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from api.settings import Settings
from domain.customers import Customer
from tests.factories import Tenant

ENGAGE = str(Path(sys.executable).parent / "engage")


async def engage_import(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    assert settings.mongodb_uri is not None
    env = {
        **os.environ,
        "ENGAGE_MONGODB_URI": settings.mongodb_uri,
        "ENGAGE_DATABASE": settings.database,
        "ENGAGE_DATA_DIR": str(settings.data_dir),
    }
    return await asyncio.to_thread(
        subprocess.run,
        [ENGAGE, "import", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_command_imports_a_file_and_says_what_it_did(
    tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text("sourceId,email\nc-1,ada@example.com\nc-2,not-an-email\n")
    orders = tmp_path / "orders.jsonl"
    orders.write_text(
        '{"id": "o-1", "customerSourceId": "c-1", "amount": 1999, "currency": "EUR", '
        '"createdAt": "2022-02-02T10:00:00Z"}\n'
    )

    first = await engage_import(
        settings, "customers", str(customers), "--project", tenant.project_id
    )
    by_name = await engage_import(settings, "orders", str(orders), "--project", "shop-a")
    again = await engage_import(settings, "orders", str(orders), "--project", "shop-a")

    assert first.returncode == 0, first.stderr
    assert "row 3: email:" in first.stdout and "(INVALID_EMAIL)" in first.stdout
    assert "SUCCEEDED: 2 of 2 rows: 1 imported, 0 already there, 1 skipped" in first.stdout
    assert by_name.returncode == 0, by_name.stderr
    assert "1 imported" in by_name.stdout
    assert "0 imported, 1 already there" in again.stdout
    ada = await Customer.find_one({"project_id": tenant.project_id, "source_id": "c-1"})
    assert ada is not None
    assert (ada.metrics.orders_count, ada.metrics.total_spent) == (1, 1999)


async def test_the_command_refuses_what_it_cannot_import(
    tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("sourceId,shoe\nc-1,42\n")

    unknown_column = await engage_import(
        settings, "customers", str(bad), "--project", tenant.project_id
    )
    no_project = await engage_import(settings, "customers", str(bad), "--project", "nope")
    missing = await engage_import(
        settings, "customers", str(tmp_path / "none.csv"), "--project", tenant.project_id
    )

    assert unknown_column.returncode != 0
    assert "'shoe' is not a field of this import (UNKNOWN_COLUMN)" in unknown_column.stderr
    assert "no project has the id or name 'nope'" in no_project.stderr
    assert "cannot read" in missing.stderr
    assert await Customer.find({"project_id": tenant.project_id}).count() == 0
