"""The petitioner's query code (查询码, CONTRACT.md §8): a credential, made and checked here.

Made by intake when a case is registered, given to the petitioner in the registration
answer and the agency's `referral_accepted`, and nowhere else. What is kept and published
is its digest: HMAC-SHA256 under GM_QUERY_CODE_KEY, so a copy of the logs or of the
projections is no list of codes, and a code cannot be checked without the key. Intake
(which makes codes) and reporting (which looks them up) need the same key.

The code: 16 characters from an alphabet without the ones people confuse when reading
or hearing them (0/O, 1/I/L, U/V), in four groups of four — `7KQM-4XRP-HT2C-9WNA` —
read out on the phone like a bank card number. 29^16 ≈ 2^77.7 equally likely codes from
the `secrets` module: with a million live cases, a guess hits one with probability
below 10^-17, before any rate limit.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import unicodedata

log = logging.getLogger(__name__)

ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"  # 29 characters: no 0 O 1 I L U V
GROUPS, GROUP_SIZE = 4, 4
LENGTH = GROUPS * GROUP_SIZE
# Used when GM_QUERY_CODE_KEY is unset (make run, tests): codes then work, but anyone with
# this source could check a leaked digest. Never deploy without a key of your own.
DEVELOPMENT_KEY = "development-only-query-code-key"
# What a petitioner may type between characters: spaces, hyphens (any kind), dots.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\uff0d.·]+")


def new_code() -> str:
    """A fresh code, grouped for reading: XXXX-XXXX-XXXX-XXXX."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i:i + GROUP_SIZE] for i in range(0, LENGTH, GROUP_SIZE))


def normalise(text: str) -> str:
    """The code as typed → its canonical form (upper case, no separators), or "" when it
    cannot be a code. Full-width letters and digits count as their ASCII forms."""
    if not isinstance(text, str) or len(text) > 64:
        return ""
    raw = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()
    if len(raw) != LENGTH or any(c not in ALPHABET for c in raw):
        return ""
    return raw


class QueryCodes:
    """Digests of codes under one key: what intake records and reporting looks up."""

    def __init__(self, key: str | bytes | None):
        if not key:
            log.warning("GM_QUERY_CODE_KEY is not set: query codes use the development "
                        "key; set a secret key of your own before deploying")
            key = DEVELOPMENT_KEY
        self._key = key.encode("utf-8") if isinstance(key, str) else bytes(key)

    def digest(self, code: str) -> str:
        """The keyed digest of a code as typed. Anything that is not a code gets the
        digest of its text all the same (never a stored one: stored digests are of
        canonical codes), so a malformed code costs what a wrong one does."""
        canonical = normalise(code)
        message = ("code:" + canonical) if canonical else ("not-a-code:" + str(code)[:64])
        return hmac.new(self._key, message.encode("utf-8"), hashlib.sha256).hexdigest()

    def issue(self) -> tuple[str, str]:
        """A new code and its digest."""
        code = new_code()
        return code, self.digest(code)

    @staticmethod
    def same(a: str, b: str) -> bool:
        return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))
