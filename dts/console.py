"""Serves the browser console's entry page and a health probe."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@ensure_csrf_cookie
def console(request: HttpRequest) -> HttpResponse:
    built = settings.BASE_DIR / "frontend" / "dist" / "index.html"
    template = "dist/index.html" if built.exists() else "index.html"
    return render(request, template)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: answers without auth and reveals nothing but 'ok'."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
