"""Nameko entrypoints of the assignment service: thin translations to handler calls."""
from gm_platform.base import PlatformService


class AssignmentService(PlatformService):
    name = "assignment"
