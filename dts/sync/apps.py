from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "dts.sync"
    label = "sync"
    verbose_name = "Sync tasks"
