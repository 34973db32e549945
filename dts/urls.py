from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from dts.console import console, healthz

admin.site.site_header = "DTS platform administration"
admin.site.site_title = "DTS admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("dts.api.urls")),
    path("api/auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", healthz, name="healthz"),
    path("", console, name="console"),
]
