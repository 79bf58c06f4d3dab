"""Personal data encrypted at rest, and erasable (crypto-shredding).

- crypto: the master key (GM_MASTER_KEY, or a development key), the data keys' wrapping
  and the pseudonyms (keyed hashes of resident id numbers);
- keystore (+ _sqlite, _mongo): where data keys are kept and destroyed;
- personal: which values are personal, sealed and opened wherever they sit;
- vault: which key seals what, and erasure;
- store: PrivateEventStore, the event store with personal data sealed at rest;
- factory: a service's key store and private event store from its store URI.
"""
from .crypto import MasterKey, MasterKeyError, load_master_key
from .factory import key_store_location, open_key_store, open_private_store, open_vault
from .keystore import KeyStore, StoredKey, Tombstone
from .personal import ERASED, UNREADABLE
from .store import PrivateEventStore
from .vault import Vault

__all__ = [
    "MasterKey", "MasterKeyError", "load_master_key", "key_store_location",
    "open_key_store", "open_private_store", "open_vault", "KeyStore", "StoredKey",
    "Tombstone", "ERASED", "UNREADABLE", "PrivateEventStore", "Vault",
]
