"""Production mode refuses to start without its secrets and names the missing variable."""

from __future__ import annotations

import os
import subprocess
import sys

from cryptography.fernet import Fernet

from dts.state import BASE_DIR


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DTS_"))}
    clean.update(env, DJANGO_SETTINGS_MODULE="dts.settings", DTS_STATE_DIR=env.get("DTS_STATE_DIR", "/tmp/dts-x"))
    return subprocess.run([sys.executable, "-c", "import django; django.setup(); print('started')"],
                          cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=60)


def test_production_without_a_secret_key_names_it() -> None:
    result = load_settings(DTS_MODE="production")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required when DTS_MODE=production" in result.stderr


def test_production_without_an_encryption_key_names_it() -> None:
    result = load_settings(DTS_MODE="production", DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "DTS_ENCRYPTION_KEYS is required" in result.stderr


def test_production_with_its_secrets_starts() -> None:
    result = load_settings(DTS_MODE="production", DJANGO_SECRET_KEY="x" * 50, DJANGO_ALLOWED_HOSTS="dts.example.com",
                           DTS_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_development_generates_its_keys_once(tmp_path: object) -> None:
    state = str(tmp_path)
    assert load_settings(DTS_STATE_DIR=state).returncode == 0
    first = (tmp_path / "dts_encryption_keys").read_text()  # type: ignore[operator]
    assert load_settings(DTS_STATE_DIR=state).returncode == 0
    assert (tmp_path / "dts_encryption_keys").read_text() == first  # type: ignore[operator]
    assert oct((tmp_path / "django_secret_key").stat().st_mode)[-3:] == "600"  # type: ignore[operator]


def test_database_url_selects_postgresql_for_metadata() -> None:
    code = ("from django.conf import settings; d = settings.DATABASES['default']; "
            "print(d['ENGINE'], d['NAME'], d['HOST'], d['PORT'])")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DTS_"))}
    clean.update(DJANGO_SETTINGS_MODULE="dts.settings", DTS_STATE_DIR="/tmp/dts-x",
                 DATABASE_URL="postgres://dts:pw@db.internal:5433/meta")
    out = subprocess.run([sys.executable, "-c", "import django; django.setup(); " + code], cwd=BASE_DIR, env=clean,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["django.db.backends.postgresql", "meta", "db.internal", "5433"], out.stderr
