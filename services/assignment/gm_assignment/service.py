"""Nameko entrypoints of the assignment service: thin translations to `Assigning` calls."""
from __future__ import annotations

import logging

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from nameko.extensions import DependencyProvider

from gm_contracts.fields import BoundedList, StrictBoolean, StrictInteger, Text
from gm_directory import load_directory
from gm_platform import topology
from gm_platform.base import PlatformService
from gm_platform.clock import container_clock
from gm_platform.consumer import Delivery, consume
from gm_platform.feed import build_feeds, catch_up_all
from gm_platform.http import BadRequest, NotFound, Principal, api, load_body
from gm_platform.periodic import every
from gm_platform.store_provider import StoreHandle, find_relay, find_store

from gm_directory.calendar_file import load_calendar

from .domain import NoticeRequired, load_rules
from .handlers import Assigning, UnknownCase

log = logging.getLogger(__name__)

SOURCES = ("intake", "mediation")


def load_config(settings):
    """The directory, the rules table and the working-day calendar; ConfigError
    (file:line: field) if one is malformed."""
    return (load_directory(settings.directory_file),
            load_rules(settings.rules_file, time_zone=settings.timezone),
            load_calendar(settings.calendar_file))


class AssigningProvider(DependencyProvider):
    """One `Assigning` and its feeds per process (they keep the open-case index warm)."""

    def setup(self):
        self.settings = self.container.config["GM_SETTINGS"]
        self.directory, self.rules, self.calendar = load_config(self.settings)
        self.clock = container_clock(self.container)
        self._assigning = None

    def get_dependency(self, worker_ctx):
        if self._assigning is None:  # the store provider is set up by now
            store = StoreHandle(find_store(self.container), find_relay(self.container))
            assigning = Assigning(store, self.directory, self.rules, self.calendar,
                                  self.clock.now)
            assigning.feeds = build_feeds(self.container, "assignment", {
                "intake": assigning.on_intake_event,
                "mediation": assigning.on_mediation_event,
            })
            self._assigning = assigning
        return self._assigning


class ExtensionBody(Schema):
    days = StrictInteger(required=True, validate=validate.Range(1, 365), metadata={
        "description": "extra days, or working days where the rule's extension counts them"})
    reason = Text(1, 2000, required=True)
    notified_on = fields.Date(metadata={
        "description": "when the person was told the reason (required where the rule says "
                       "so, e.g. 信访: 告知信访人延期理由)"})


class ReassignmentBody(Schema):
    unit = Text(1, 12)
    handler = Text(1, 64)
    reason = Text(1, 2000, required=True)

    @validates_schema
    def unit_or_handler(self, data, **kwargs):
        if not data.get("unit") and not data.get("handler"):
            raise ValidationError("name a unit, a handler or both", "unit")


class JointHandlingBody(Schema):
    participants = BoundedList(Text(1, 12), required=True, validate=validate.Length(2, 20))
    reason = Text(1, 2000, required=True)
    meeting = StrictBoolean()


class AssignmentService(PlatformService):
    """四定: every registered case gets a track, level, unit, lead, handler and deadline."""

    name = "assignment"
    assigning = AssigningProvider()

    @staticmethod
    def check_config(settings) -> None:
        load_config(settings)

    # -- events of other services --------------------------------------------------------
    @consume(queue=lambda: topology.events_queue("assignment", "intake"))
    def on_intake_event(self, delivery: Delivery):
        self.assigning.feeds["intake"].deliver(delivery.body)

    @consume(queue=lambda: topology.events_queue("assignment", "mediation"))
    def on_mediation_event(self, delivery: Delivery):
        self.assigning.feeds["mediation"].deliver(delivery.body)

    @every("catchup_interval")
    def catch_up(self):
        """Whatever the broker did not bring, read from the sources' logs."""
        return catch_up_all(self.assigning.feeds)

    @every("watch_interval", at_start=False)
    def deadline_watch(self):
        done = self.assigning.run_watch(self.settings.watch_interval)
        if done and any(done.values()):
            log.info("deadline watch: %s", done)
        return done

    # -- HTTP (role leader) ----------------------------------------------------------------
    @api("GET", "/cases/<case_id>/assignment", roles=("leader",))
    def get_assignment(self, request, principal: Principal, case_id: str):
        return self._known(lambda: self.assigning.view(case_id, principal.require_region))

    @api("POST", "/cases/<case_id>/extension", roles=("leader",))
    def extend(self, request, principal: Principal, case_id: str):
        body = load_body(request, ExtensionBody())
        try:
            return self._known(lambda: self._view(self.assigning.extend(
                case_id, body["days"], body["reason"], principal.subject,
                principal.require_region, notified_on=body.get("notified_on"))))
        except NoticeRequired as exc:
            raise BadRequest({exc.field: [str(exc)]}) from None

    @api("POST", "/cases/<case_id>/reassignment", roles=("leader",))
    def reassign(self, request, principal: Principal, case_id: str):
        body = load_body(request, ReassignmentBody())
        return self._known(lambda: self._view(self.assigning.reassign(
            case_id, body["reason"], principal.subject, principal.require_region,
            unit=body.get("unit"), handler=body.get("handler"))))

    @api("POST", "/cases/<case_id>/joint-handling", roles=("leader",))
    def arrange_joint_handling(self, request, principal: Principal, case_id: str):
        body = load_body(request, JointHandlingBody())
        return self._known(lambda: self._view(self.assigning.arrange_joint_handling(
            case_id, body["participants"], body["reason"], principal.subject,
            principal.require_region, meeting=body.get("meeting"))))

    def _view(self, agg):
        return self.assigning.describe(agg)

    @staticmethod
    def _known(call):
        try:
            return call()
        except UnknownCase as exc:
            raise NotFound(f"no assignment for case {exc}") from None
