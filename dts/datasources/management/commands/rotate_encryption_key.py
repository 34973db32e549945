"""Re-encrypt every stored secret with the first key of DTS_ENCRYPTION_KEYS.

Rotation: put the new key first in DTS_ENCRYPTION_KEYS (keep the old ones after it), restart,
run this command, then remove the old keys.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from dts.datasources.models import Datasource


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the newest key of DTS_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        with transaction.atomic():
            # Reading decrypts with whichever key fits; writing encrypts with the first key.
            for datasource in Datasource.objects.exclude(password="").only("pk", "password").iterator():
                Datasource.objects.filter(pk=datasource.pk).update(password=datasource.password)
                count += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} secret(s) with the newest key."))
