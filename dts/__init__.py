"""The DTS control plane (Django project)."""

from dts.celery import app as celery_app

__all__ = ["celery_app"]
