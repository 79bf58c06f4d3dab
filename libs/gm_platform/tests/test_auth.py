"""TokenFile and Principal: bearer tokens, roles, region scopes, reload on change."""
from __future__ import annotations

import json
import os

import pytest

from gm_platform.auth import ROLES, Forbidden, Principal, TokenFile, Unauthorized

TOKENS = [
    {"token": "t-admin", "subject": "root", "roles": ["admin"]},
    {"token": "t-clerk", "subject": "clerk-01", "roles": ["clerk"]},
    {"token": "t-mediator", "subject": "mediator-07", "roles": ["mediator"],
     "regions": ["410611"]},
    {"token": "t-two", "subject": "multi", "roles": ["leader", "analyst"],
     "regions": ["410611", "410622"]},
]


def write(path, tokens, bump: int = 0) -> str:
    path.write_text(json.dumps({"tokens": tokens}), encoding="utf-8")
    if bump:
        # A distinct mtime even on file systems with coarse timestamps.
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))
    return str(path)


@pytest.fixture
def tokens(tmp_path):
    return TokenFile(write(tmp_path / "tokens.json", TOKENS))


def bearer(token: str) -> str:
    return f"Bearer {token}"


# -- authentication -------------------------------------------------------------------------
@pytest.mark.parametrize("header", [None, "", "t-clerk", "Basic dC1jbGVyaw==",
                                    "Bearer ", "Bearer t-unknown", "Bearer t-clerkX",
                                    "Bearer t-cler"])
def test_missing_malformed_or_unknown_token_is_unauthorized(tokens, header):
    with pytest.raises(Unauthorized) as err:
        tokens.authenticate(header)
    assert err.value.status == 401
    with pytest.raises(Unauthorized):
        tokens.authorise(header, ["clerk"])


def test_known_token_gives_its_principal(tokens):
    p = tokens.authenticate(bearer("t-mediator"))
    assert p == Principal(subject="mediator-07", roles=("mediator",), regions=("410611",))
    assert tokens.authenticate("Bearer  t-clerk ").subject == "clerk-01"  # whitespace stripped


def test_no_tokens_file_means_every_token_is_unauthorized():
    with pytest.raises(Unauthorized):
        TokenFile(None).authenticate(bearer("t-admin"))


# -- roles ------------------------------------------------------------------------------
def test_wrong_role_is_forbidden(tokens):
    with pytest.raises(Forbidden) as err:
        tokens.authorise(bearer("t-clerk"), ["mediator", "leader"])
    assert err.value.status == 403
    assert "mediator or leader" in str(err.value)


def test_right_role_passes(tokens):
    assert tokens.authorise(bearer("t-clerk"), ["clerk"]).subject == "clerk-01"
    assert tokens.authorise(bearer("t-two"), ["analyst"]).subject == "multi"
    assert tokens.authorise(bearer("t-two"), ["clerk", "leader"]).subject == "multi"
    assert tokens.authorise(bearer("t-clerk"), []).subject == "clerk-01"  # any valid token


@pytest.mark.parametrize("role", ROLES)
def test_admin_passes_every_role(tokens, role):
    assert tokens.authorise(bearer("t-admin"), [role]).subject == "root"


def test_unknown_token_is_unauthorized_before_roles_are_looked_at(tokens):
    with pytest.raises(Unauthorized):
        tokens.authorise(bearer("nope"), ["admin"])


# -- regions ------------------------------------------------------------------------------
def test_unscoped_principal_sees_every_region():
    p = Principal("a", ("leader",), None)
    for region in ("410611", "410611100", "510104", None, ""):
        assert p.may_see_region(region)
        p.require_region(region)


@pytest.mark.parametrize("region, visible", [
    ("410611", True),
    ("410611100", True),        # a town inside the county
    ("410611100201", True),
    ("410622001", True),        # the second scope
    ("410612", False),
    ("4106", False),            # the city above is wider than the scope
    ("510104", False),
    (None, False),              # a case without a region is not in any scope
    ("", False),
])
def test_scoped_principal_sees_only_its_regions(region, visible):
    p = Principal("m", ("mediator",), ("410611", "410622"))
    assert p.may_see_region(region) is visible
    if visible:
        p.require_region(region)
    else:
        with pytest.raises(Forbidden):
            p.require_region(region)


def test_token_file_regions_reach_the_principal(tokens):
    p = tokens.authenticate(bearer("t-mediator"))
    assert p.may_see_region("410611100") and not p.may_see_region("410622")
    assert tokens.authenticate(bearer("t-clerk")).regions is None


# -- reload ---------------------------------------------------------------------------------
def test_file_is_reloaded_when_it_changes(tmp_path):
    path = tmp_path / "tokens.json"
    tf = TokenFile(write(path, TOKENS))
    assert tf.authenticate(bearer("t-clerk")).subject == "clerk-01"

    rotated = [{"token": "t-clerk-2", "subject": "clerk-01", "roles": ["clerk", "mediator"]}]
    write(path, rotated, bump=1)
    with pytest.raises(Unauthorized):
        tf.authenticate(bearer("t-clerk"))  # the old token is gone without a restart
    p = tf.authenticate(bearer("t-clerk-2"))
    assert p.roles == ("clerk", "mediator")
    assert tf.authorise(bearer("t-clerk-2"), ["mediator"]) == p


def test_broken_file_after_start_keeps_the_last_good_tokens(tmp_path, caplog):
    path = tmp_path / "tokens.json"
    tf = TokenFile(write(path, TOKENS))
    path.write_text('{"tokens": [{"token": "secret-in-file", ', encoding="utf-8")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert tf.authenticate(bearer("t-clerk")).subject == "clerk-01"
    assert "secret-in-file" not in caplog.text  # never echo the file's content

    write(path, [{"token": "t-new", "subject": "n", "roles": ["analyst"]}], bump=2)
    assert tf.authenticate(bearer("t-new")).subject == "n"  # fixed file is picked up


def test_deleted_file_after_start_keeps_the_last_good_tokens(tmp_path):
    path = tmp_path / "tokens.json"
    tf = TokenFile(write(path, TOKENS))
    path.unlink()
    assert tf.authenticate(bearer("t-admin")).subject == "root"


# -- broken at start ------------------------------------------------------------------------
@pytest.mark.parametrize("content", [
    "{not json",
    json.dumps({"tokens": [{"subject": "x", "roles": ["clerk"]}]}),              # no token
    json.dumps({"tokens": [{"token": "", "subject": "x", "roles": ["clerk"]}]}),  # empty token
    json.dumps({"tokens": [{"token": "t", "roles": ["clerk"]}]}),                # no subject
    json.dumps({"tokens": [{"token": "t", "subject": "x", "roles": ["superuser"]}]}),
    json.dumps({"tokens": [{"token": "t", "subject": "x", "roles": "admin"}]}),  # not a list
    b"\xff\xfe not utf-8",
])
def test_broken_file_at_start_raises_value_error(tmp_path, content):
    path = tmp_path / "tokens.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError):
        TokenFile(str(path))


def test_unknown_role_error_names_the_role_not_the_token(tmp_path):
    path = tmp_path / "tokens.json"
    write(path, [{"token": "very-secret", "subject": "x", "roles": ["clerk", "root"]}])
    with pytest.raises(ValueError) as err:
        TokenFile(str(path))
    assert "tokens[0].roles: unknown role 'root'" in str(err.value)
    assert "very-secret" not in str(err.value)


def test_missing_file_at_start_raises(tmp_path):
    with pytest.raises(ValueError, match="absent.json: cannot read it: No such file"):
        TokenFile(str(tmp_path / "absent.json"))


@pytest.mark.parametrize("content", ['["t-admin"]', '{"tokens": ["t-admin"]}'])
def test_wrong_json_shape_at_start_raises_value_error(tmp_path, content):
    path = tmp_path / "tokens.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError):
        TokenFile(str(path))


def test_wrong_json_shape_after_start_keeps_the_last_good_tokens(tmp_path):
    path = tmp_path / "tokens.json"
    tf = TokenFile(write(path, TOKENS))
    path.write_text('["t-admin"]', encoding="utf-8")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert tf.authenticate(bearer("t-admin")).subject == "root"


def test_empty_regions_scope_a_token_to_no_region(tmp_path):
    path = tmp_path / "tokens.json"
    tf = TokenFile(write(path, [{"token": "t", "subject": "x", "roles": ["mediator"],
                                 "regions": []}]))
    assert not tf.authenticate(bearer("t")).may_see_region("420100")


def test_regions_given_as_a_string_are_refused(tmp_path):
    path = tmp_path / "tokens.json"
    with pytest.raises(ValueError):
        TokenFile(write(path, [{"token": "t", "subject": "x", "roles": ["mediator"],
                                "regions": "410611"}]))
