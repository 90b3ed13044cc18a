#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.core.management import execute_from_command_line

    from config.settings.errors import ProductionSettingsError

    try:
        execute_from_command_line(sys.argv)
    except ProductionSettingsError as exc:  # a configuration message, not a traceback
        sys.stderr.write(f"{exc}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
