"""Test helpers shipped with the kernel (they need pytest)."""
from .store_contract import StoreContract

__all__ = ["StoreContract"]
