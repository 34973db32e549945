"""The Celery application: broker and results on Redis, queues per kind of job."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dts.settings")

app = Celery("dts")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("stream", "snapshot", "compare", "default")]
app.autodiscover_tasks(related_name="jobs")
