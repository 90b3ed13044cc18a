"""The one error production settings raise: every missing or unsafe variable, one per line."""
from django.core.exceptions import ImproperlyConfigured


class ProductionSettingsError(ImproperlyConfigured):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("config.settings.production refuses to start:\n" + "\n".join(f"  - {p}" for p in problems))
