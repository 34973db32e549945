from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """Running the platform as one process tree: web, worker and beat (manage.py runplatform)."""

    name = "dts.platform"
    label = "platform"
    verbose_name = "Platform"
