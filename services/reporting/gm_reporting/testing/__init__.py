"""Test helpers shipped with the service: the projection-store contract suite every
adapter must pass, and a generator of consistent synthetic event logs."""
