"""Which data is personal, wherever it sits in an event, a message or a projection.

Personal data in this suite is a dispute's parties: their `name`, `id_number` (resident
id) and `phone`, in every list under the key `parties` at any depth (intake's
CaseRegistered and screening findings, mediation's MediationOpened, hand-offs to
agencies, reporting's case files), and the party names listed as `applicants` (a joint
application for judicial confirmation). Finding them by these keys rather than per event
type keeps every event that carries parties covered, including ones added later and
agency messages built from them. Roles, case ids, summaries and figures are not sealed:
counts, flags and the ledger stay readable after an erasure.

A sealed value is `{"gm_sealed": <key id>, "ct": <base64 nonce+ciphertext>}`: a dict
where a string was, which no valid input produces (names, numbers and phones are strings
by their schemas), so sealed and plain values never mix up. The ciphertext is the JSON
of the value, under the key's AES-GCM, bound to the key id.

After an erasure a sealed value reads as a marker that is still valid wherever the value
was: a name (or applicant) reads `[erased]`, an id number or phone reads null (a
"[erased]" id number would fail the resident-id check of every consumer and agency
message built from the event afterwards, e.g. a hand-off). A value whose key is unknown
(never created here, or the ciphertext was altered) reads `[unreadable]` / null, and is
logged: reading never raises on what is stored.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Set, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .crypto import open_bytes, seal_bytes

SEALED = "gm_sealed"
ERASED = "[erased]"
UNREADABLE = "[unreadable]"
PARTY_FIELDS = ("name", "id_number", "phone")
#: What a sealed field reads as when its key was destroyed (or is unknown).
_GONE = {"name": ERASED, "id_number": None, "phone": None}

#: An opened key, or why there is none (ERASED, UNREADABLE).
Opened = Union[AESGCM, str]


# Trees are JSON-native (dicts, lists, strings, numbers): the walks test for `dict`, which
# is many times faster than an ABC check, on every value of every event read.
def is_sealed(value: Any) -> bool:
    return type(value) is dict and SEALED in value and "ct" in value


def seal_value(key_id: str, key: AESGCM, value: Any) -> dict:
    plain = json.dumps(value, ensure_ascii=False).encode("utf-8")
    ct = seal_bytes(key, plain, key_id.encode("utf-8"))
    return {SEALED: key_id, "ct": base64.b64encode(ct).decode("ascii")}


def open_value(sealed: Mapping, opened: Mapping[str, Opened], gone: Any) -> Any:
    """The plaintext, or `gone` (the field's marker) when the key is not there."""
    key = opened.get(sealed[SEALED], UNREADABLE)
    if isinstance(key, str):
        return gone if key == ERASED else _unreadable(gone)
    try:
        ct = base64.b64decode(sealed["ct"])
        return json.loads(open_bytes(key, ct, sealed[SEALED].encode("utf-8")))
    except (InvalidTag, ValueError, TypeError):
        return _unreadable(gone)


def _unreadable(gone: Any) -> Any:
    return UNREADABLE if gone == ERASED else gone


# -- walking ----------------------------------------------------------------------------------
def parties_in(tree: Any) -> Iterator[dict]:
    """Every party (a mapping in a list under `parties`), at any depth."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == "parties" and isinstance(v, list):
                for p in v:
                    if isinstance(p, dict):
                        yield p  # type: ignore[misc]
            else:
                yield from parties_in(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from parties_in(v)


def main_id_numbers(tree: Any) -> List[str]:
    """The id numbers a case's id-less data is erased with: its applicants' (the main
    parties); when no applicant gave one, every party's that did."""
    parties = [p for p in parties_in(tree) if isinstance(p.get("id_number"), str)]
    applicants = [p["id_number"] for p in parties if p.get("role") == "applicant"]
    return list(dict.fromkeys(applicants or [p["id_number"] for p in parties]))


def all_id_numbers(tree: Any) -> List[str]:
    return list(dict.fromkeys(p["id_number"] for p in parties_in(tree)
                              if isinstance(p.get("id_number"), str)))


def _transform(tree: Any, party: Callable[[dict], dict],
               names: Callable[[list], list]) -> Any:
    """A copy of `tree` with each party and each applicants list replaced."""
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            if k == "parties" and isinstance(v, list):
                out[k] = [party(dict(p)) if isinstance(p, dict) else _transform(p, party, names)
                          for p in v]
            elif k == "applicants" and isinstance(v, list):
                out[k] = names(list(v))
            else:
                out[k] = _transform(v, party, names)
        return out
    if isinstance(tree, list):
        return [_transform(v, party, names) for v in tree]
    return tree


def seal_tree(tree: Any, key_of_party: Callable[[Mapping], tuple],
              case_key: Callable[[], tuple]) -> Any:
    """`tree` with every personal value sealed. `key_of_party(party)` gives the (key id,
    AESGCM) for a party's fields; `case_key()` the one for applicants' names."""

    def party(p: dict) -> dict:
        if not any(isinstance(p.get(f), str) for f in PARTY_FIELDS):
            return p
        key_id, key = key_of_party(p)
        for f in PARTY_FIELDS:
            if isinstance(p.get(f), str):
                p[f] = seal_value(key_id, key, p[f])
        return p

    def names(values: list) -> list:
        if not any(isinstance(v, str) for v in values):
            return values
        key_id, key = case_key()
        return [seal_value(key_id, key, v) if isinstance(v, str) else v for v in values]

    return _transform(tree, party, names)


def sealed_key_ids(tree: Any, found: Optional[Set[str]] = None) -> Set[str]:
    found = set() if found is None else found
    if is_sealed(tree):
        found.add(tree[SEALED])
    elif isinstance(tree, dict):
        for v in tree.values():
            sealed_key_ids(v, found)
    elif isinstance(tree, list):
        for v in tree:
            sealed_key_ids(v, found)
    return found


def unseal_tree(tree: Any, opened: Mapping[str, Opened]) -> Any:
    """`tree` with every sealed value opened, or its marker where the key is gone."""
    if is_sealed(tree):
        return open_value(tree, opened, ERASED)
    if isinstance(tree, dict):
        out: Dict[str, Any] = {}
        for k, v in tree.items():
            if k == "parties" and isinstance(v, list):
                out[k] = [_unseal_party(p, opened) if isinstance(p, dict)
                          else unseal_tree(p, opened) for p in v]
            else:
                out[k] = unseal_tree(v, opened)
        return out
    if isinstance(tree, list):
        return [unseal_tree(v, opened) for v in tree]
    return tree


def _unseal_party(p: Mapping, opened: Mapping[str, Opened]) -> dict:
    out = {}
    for k, v in p.items():
        out[k] = open_value(v, opened, _GONE.get(k, ERASED)) if is_sealed(v) \
            else unseal_tree(v, opened)
    return out
