from django.apps import AppConfig


class CompareConfig(AppConfig):
    name = "dts.compare"
    label = "compare"
    verbose_name = "Compare and repair"
