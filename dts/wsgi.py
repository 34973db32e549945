"""WSGI entry point (the ASGI one in asgi.py also serves WebSockets)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dts.settings")
application = get_wsgi_application()
