"""Domain-event schema registry."""
import pytest
from marshmallow import Schema, fields

from gm_contracts import all_events, event_schema, register_event
from gm_contracts.registry import unregister_event


@pytest.fixture
def cleanup():
    keys = []
    yield keys
    for key in keys:
        unregister_event(*key)


def test_register_and_look_up(cleanup):
    @register_event("testsvc", "thing_happened", 2)
    class ThingHappened(Schema):
        name = fields.String()

    cleanup.append(("testsvc", "thing_happened", 2))
    assert event_schema("testsvc", "thing_happened", 2) is ThingHappened
    assert all_events()[("testsvc", "thing_happened", 2)] is ThingHappened
    with pytest.raises(KeyError):
        event_schema("testsvc", "thing_happened")  # version 1 is another event


def test_all_events_is_sorted_copy(cleanup):
    for event_type in ("b_event", "a_event"):
        register_event("testsvc", event_type)(type(event_type, (Schema,), {}))
        cleanup.append(("testsvc", event_type, 1))
    keys = [k for k in all_events() if k[0] == "testsvc"]
    assert keys == [("testsvc", "a_event", 1), ("testsvc", "b_event", 1)]
    all_events().clear()
    assert event_schema("testsvc", "a_event")


def test_conflicting_registration_is_refused(cleanup):
    @register_event("testsvc", "clash")
    class First(Schema):
        pass

    cleanup.append(("testsvc", "clash", 1))
    register_event("testsvc", "clash")(First)  # re-import of the same class is fine

    class Second(Schema):
        pass

    with pytest.raises(ValueError):
        register_event("testsvc", "clash")(Second)


@pytest.mark.parametrize("service, event_type, version", [
    ("Intake", "x", 1), ("intake", "case-registered", 1), ("", "x", 1), ("intake", "x", 0), ("intake", "x", True),
])
def test_bad_names_and_versions(service, event_type, version):
    with pytest.raises(ValueError):
        register_event(service, event_type, version)


def test_only_schemas_can_be_registered():
    with pytest.raises(TypeError):
        register_event("testsvc", "not_schema")(dict)
