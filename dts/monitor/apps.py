from django.apps import AppConfig


class MonitorConfig(AppConfig):
    name = "dts.monitor"
    label = "monitor"
    verbose_name = "Monitoring and alerts"
