from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from dts.console import CONSOLE_ROUTES, console, healthz, session
from dts.monitor.prometheus import metrics_view

admin.site.site_header = "DTS platform administration"
admin.site.site_title = "DTS admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/session/", session, name="session"),
    path("api/", include("dts.api.urls")),
    path("api/auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs page sends anonymous visitors to sign in; the schema it loads needs auth too.
    path("api/docs/", login_required(SpectacularSwaggerView.as_view(url_name="schema")), name="swagger-ui"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("", console, name="console"),
    # Client-side routes of the console: a reload or a shared link lands on the app.
    re_path(CONSOLE_ROUTES, console),
]
