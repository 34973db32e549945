from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dts.accounts"
    label = "accounts"
    verbose_name = "Accounts and workspaces"

    def ready(self) -> None:
        from dts.accounts import signals  # noqa: F401  (login audit)
