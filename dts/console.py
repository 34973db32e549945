"""Serves the browser console's entry page, its JSON session login, and a health probe."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

# The console's own paths (frontend/src/routes.tsx); the API, admin and static files stay Django's.
NOT_BUILT = ("<!doctype html><title>DTS console</title><h1>The console is not built</h1>"
             "<p>Run <code>make run</code>, or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>. "
             "Meanwhile the <a href='/api/docs/'>API docs</a> and the <a href='/admin/'>admin panel</a> work.</p>")
CONSOLE_ROUTES = r"^(?:login|dashboard|datasources|tasks|compare|alerts|workspace)(?:/.*)?$"


@ensure_csrf_cookie
def console(request: HttpRequest) -> HttpResponse:
    """The single-page app for / and every client-side route (the app routes itself)."""
    built = settings.BASE_DIR / "frontend" / "dist" / "index.html"
    if not built.exists():
        # frontend/index.html is Vite's source entry, not a page: say how to build instead.
        return HttpResponse(NOT_BUILT, status=503, content_type="text/html; charset=utf-8")
    return render(request, "dist/index.html")


@ensure_csrf_cookie
@require_http_methods(["GET", "POST", "DELETE"])
def session(request: HttpRequest) -> JsonResponse:
    """/api/session/: the console's login. GET says who is signed in, POST {username, password}
    signs in (CSRF-checked like any session write), DELETE signs out.

    authenticate() fires Django's login signals, so successes and failures reach the audit log.
    """
    if request.method == "GET":
        user = request.user
        return JsonResponse({"authenticated": user.is_authenticated,
                             "username": user.get_username() if user.is_authenticated else None})
    if request.method == "DELETE":
        logout(request)
        return JsonResponse({"authenticated": False, "username": None})
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"non_field_errors": ["Send a JSON object {\"username\": …, \"password\": …}."]},
                            status=400)
    if not isinstance(body, dict):
        body = {}
    errors = {field: ["This field is required."] for field in ("username", "password")
              if not isinstance(body.get(field), str) or not body.get(field)}
    if errors:
        return JsonResponse(errors, status=400)
    user = authenticate(request, username=body["username"], password=body["password"])
    if user is None or not user.is_active:
        return JsonResponse({"non_field_errors": ["Wrong user name or password."]}, status=400)
    login(request, user)
    return JsonResponse({"authenticated": True, "username": user.get_username()})


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: answers without auth and reveals nothing but 'ok'."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
