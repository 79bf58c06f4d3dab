"""Nameko entrypoints of the assignment service: each a command or a view on the bus.

Intake's and mediation's events arrive through the consumers every service has
(gm_platform.base); what they do is in handlers.EVENTS."""
from __future__ import annotations

import logging

from gm_platform.base import PlatformService
from gm_platform.bootstrap import Bootstrapped
from gm_platform.http import Principal, api, caller, load_body
from gm_platform.messagebus import Caller
from gm_platform.periodic import every

from . import openapi
from .bootstrap import bootstrap, load_config
from .commands import ArrangeJointHandling, ExtendDeadline, Reassign
from .handlers import assignment_view, roster_view
from .schemas import ExtensionBody, JointHandlingBody, ReassignmentBody, RosterQuery

log = logging.getLogger(__name__)


class AssignmentService(PlatformService):
    """四定: every registered case gets a track, level, unit, lead, handler and deadline."""

    name = "assignment"
    app = Bootstrapped(bootstrap)
    http_api = openapi.API

    @staticmethod
    def check_config(settings) -> None:
        load_config(settings)

    @every("watch_interval", at_start=False)
    def deadline_watch(self):
        done = self.app.run_watch(self.settings.watch_interval)
        if done and any(done.values()):
            log.info("deadline watch: %s", done)
        return done

    # -- HTTP ------------------------------------------------------------------------------
    @api("GET", "/mediators", roles=("clerk", "mediator", "leader", "analyst"))
    def get_roster(self, request, principal: Principal):
        query = RosterQuery().load(request.args.to_dict(flat=True))
        return self.app.bus.query(roster_view, query)


    @api("GET", "/cases/<case_id>/assignment", roles=("leader",))
    def get_assignment(self, request, principal: Principal, case_id: str):
        return self.app.bus.query(assignment_view, case_id,
                                  Caller(principal.subject, may_see=principal.require_region))

    @api("POST", "/cases/<case_id>/extension", roles=("leader",))
    def extend(self, request, principal: Principal, case_id: str):
        body = load_body(request, ExtensionBody())
        return self.app.bus.handle(ExtendDeadline(
            case_id, body["days"], body["reason"], caller(request, principal),
            notified_on=body.get("notified_on")))

    @api("POST", "/cases/<case_id>/reassignment", roles=("leader",))
    def reassign(self, request, principal: Principal, case_id: str):
        body = load_body(request, ReassignmentBody())
        return self.app.bus.handle(Reassign(
            case_id, body["reason"], caller(request, principal), unit=body.get("unit"),
            handler=body.get("handler")))

    @api("POST", "/cases/<case_id>/joint-handling", roles=("leader",))
    def arrange_joint_handling(self, request, principal: Principal, case_id: str):
        body = load_body(request, JointHandlingBody())
        return self.app.bus.handle(ArrangeJointHandling(
            case_id, tuple(body["participants"]), body["reason"], caller(request, principal),
            meeting=body.get("meeting")))
