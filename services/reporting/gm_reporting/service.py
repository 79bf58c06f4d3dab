"""Nameko entrypoints of the reporting service: thin translations to handler calls."""
from gm_platform.base import PlatformService


class ReportingService(PlatformService):
    name = "reporting"
