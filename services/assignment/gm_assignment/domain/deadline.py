"""Counting time limits in calendar days in the deployment's time zone: see
gm_kernel.localtime (shared with mediation, so every service counts a day alike)."""
from gm_kernel.localtime import due_after, end_of_local_day, local_date

__all__ = ["due_after", "end_of_local_day", "local_date"]
