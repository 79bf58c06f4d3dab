"""Test helpers shipped with the kernel (they need pytest)."""
from .key_store_contract import KeyStoreContract
from .store_contract import StoreContract, run_in_threads

__all__ = ["KeyStoreContract", "StoreContract", "run_in_threads"]
