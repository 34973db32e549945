from django.apps import AppConfig


class DatasourcesConfig(AppConfig):
    name = "dts.datasources"
    label = "datasources"
    verbose_name = "Datasources"
