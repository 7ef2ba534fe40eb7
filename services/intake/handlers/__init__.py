"""Intake's use cases, one function per command or query; each takes intake's typed
dependencies, the caller and a typed command, returns a typed result (`views`), and raises
domain errors (`services.common.errors`)."""

from services.intake.handlers.agencies import agency_status, list_agencies, register_agency
from services.intake.handlers.innovations import (
    Created,
    create_innovation,
    get_innovation,
    list_innovations,
    set_sid_answer,
    submit_innovation,
    update_profile,
    withdraw_innovation,
)
from services.intake.handlers.spd import list_spd_answers, set_spd_answer

__all__ = [
    "Created",
    "agency_status",
    "create_innovation",
    "get_innovation",
    "list_agencies",
    "list_innovations",
    "list_spd_answers",
    "register_agency",
    "set_sid_answer",
    "set_spd_answer",
    "submit_innovation",
    "update_profile",
    "withdraw_innovation",
]
