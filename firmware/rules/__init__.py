"""Facility rules, identity and records for the handset's call flow (docs/rules.md).

The handset uses `CallRules` (service.py); the pure parts (dial plan, rating, authorisation, schedules) and the
dataset schemas are importable on their own, e.g. by the central server to validate what it sends.
"""

from firmware.rules.authorize import CallTiming, Grant, Refusal, Warning
from firmware.rules.calls import CallRecord
from firmware.rules.datasets import CentralData, DatasetError, validate_value
from firmware.rules.facility import FacilityRules, RulesError, load_rules
from firmware.rules.identity import make_verifier
from firmware.rules.service import CallRules, Identified

__all__ = [
    "CallRecord",
    "CallRules",
    "CallTiming",
    "CentralData",
    "DatasetError",
    "FacilityRules",
    "Grant",
    "Identified",
    "Refusal",
    "RulesError",
    "Warning",
    "load_rules",
    "make_verifier",
    "validate_value",
]
