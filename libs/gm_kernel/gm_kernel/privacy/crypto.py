"""The master key and what it derives: the key that wraps every data key, and the key of
the pseudonyms (keyed hashes) that name a person without their resident id number.

Everything is `cryptography`'s AEAD (AES-256-GCM) and HKDF/HMAC — no cipher made here.

- GM_MASTER_KEY: base64 of 32 random bytes (`python -c "import os, base64;
  print(base64.b64encode(os.urandom(32)).decode())"`), the same for every service of a
  deployment (the pseudonym of a person must be the same everywhere, so that one
  `gm privacy erase` finds them in every service). Kept outside every store: a copy of
  a store, or of a key store, without it reads nothing.
- Unset (a development checkout, `make run`): a development key is generated once into
  `<GM_DATA_DIR>/master.key` (mode 0600) and reused, with a warning. It sits beside the
  data it protects, so it protects nothing against a copy of the data directory: never
  run a deployment on it.
- From the master key, HKDF-SHA256 derives two independent keys (separate `info`): the
  wrapping key (AES-GCM over each data key, its id as associated data) and the pseudonym
  key (HMAC-SHA256 of the normalised resident id number).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import tempfile
from typing import Optional

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12  # AES-GCM's standard nonce; random per encryption
MASTER_KEY_FILE = "master.key"


class MasterKeyError(ValueError):
    """GM_MASTER_KEY is malformed, or does not open the key store (a wrong key)."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=b"gm/" + purpose + b"/v1").derive(master)


def seal_bytes(key: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    """nonce || AES-GCM(plaintext) bound to `aad`."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + key.encrypt(nonce, plaintext, aad)


def open_bytes(key: AESGCM, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext; InvalidTag when the key or `aad` is wrong or `sealed` was altered."""
    return key.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)


#: Overhead of `seal_bytes` over the plaintext: the nonce and GCM's 16-byte tag.
SEAL_OVERHEAD = NONCE_BYTES + 16


class MasterKey:
    """The deployment's master key and the two keys derived from it."""

    _CHECK = b"gm key store check"

    def __init__(self, raw: bytes, *, source: str = "GM_MASTER_KEY"):
        if len(raw) != KEY_BYTES:
            raise MasterKeyError(f"{source} must be base64 of {KEY_BYTES} bytes, "
                                 f"got {len(raw)} bytes")
        self.source = source
        self._wrap = AESGCM(_derive(raw, b"wrap"))
        self._pseudonym_key = _derive(raw, b"pseudonym")

    @classmethod
    def from_base64(cls, text: str, *, source: str = "GM_MASTER_KEY") -> "MasterKey":
        try:
            # Standard or URL-safe alphabet.
            raw = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"),
                                   validate=True)
        except (binascii.Error, ValueError):
            raise MasterKeyError(f"{source} is not base64") from None
        return cls(raw, source=source)

    # -- pseudonyms --------------------------------------------------------------------------
    def pseudonym(self, id_number: str) -> str:
        """The person's keyed hash: HMAC-SHA256 of the resident id number (trimmed, upper
        case: a check `x` is `X`). Who holds it but not the master key cannot tell whose
        it is, nor test a guess."""
        normal = id_number.strip().upper().encode("utf-8")
        return hmac.new(self._pseudonym_key, normal, hashlib.sha256).hexdigest()

    # -- data keys -----------------------------------------------------------------------------
    def wrap(self, key_id: str, data_key: bytes) -> bytes:
        return seal_bytes(self._wrap, data_key, key_id.encode("utf-8"))

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        try:
            return open_bytes(self._wrap, wrapped, key_id.encode("utf-8"))
        except InvalidTag:
            raise MasterKeyError(f"{self.source} does not open data key {key_id}: "
                                 "a different master key wrapped it") from None

    # -- the key store's check value -------------------------------------------------------------
    def check_value(self) -> bytes:
        """What a key store keeps to tell, at start-up, whether this is its master key."""
        return seal_bytes(self._wrap, self._CHECK, b"check")

    def opens(self, check: bytes) -> bool:
        try:
            return open_bytes(self._wrap, check, b"check") == self._CHECK
        except (InvalidTag, ValueError):
            return False


_warned: set = set()


def load_master_key(value: Optional[str], data_dir: str) -> MasterKey:
    """GM_MASTER_KEY's key, or, when it is unset, the development key in `data_dir`
    (generated on first use, with a warning every start)."""
    if value:
        return MasterKey.from_base64(value)
    path = os.path.join(data_dir, MASTER_KEY_FILE)
    if path not in _warned:  # once per process and file
        _warned.add(path)
        log.warning("GM_MASTER_KEY is not set: personal data is encrypted under the "
                    "development key in %s, which protects nothing against a copy of that "
                    "directory; set GM_MASTER_KEY in any deployment", path)
    return MasterKey.from_base64(_development_key(path), source=path)


def _development_key(path: str) -> str:
    """The key in `path`, created atomically if absent: several services starting at once
    (`make run`) must end up with the same one, so it is written to a temporary file and
    linked into place; whoever links second reads the winner's."""
    try:
        with open(path, encoding="ascii") as f:
            return f.read()
    except FileNotFoundError:
        pass
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".master.key.")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, base64.b64encode(os.urandom(KEY_BYTES)) + b"\n")
        os.fsync(fd)
        os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use its key
    finally:
        os.unlink(tmp)
    with open(path, encoding="ascii") as f:
        return f.read()
