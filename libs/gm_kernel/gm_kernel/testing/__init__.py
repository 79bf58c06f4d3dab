"""Test helpers shipped with the kernel (they need pytest)."""
from .store_contract import StoreContract, run_in_threads

__all__ = ["StoreContract", "run_in_threads"]
