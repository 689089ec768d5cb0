"""Records the handset must never lose, one small class per job, all writing through one Journal.

Each job commits its rows with their outbox item in ONE transaction (firmware/rules/journal.py): calls and their
CDRs (calls.py), ledger entries (ledger.py), usage counts (usage.py), blocks, violations and reports
(incidents.py), PIN attempts and lockouts (pin_lockouts.py) and language choices (languages.py).
"""

from __future__ import annotations

from firmware.rules.calls import CallLog
from firmware.rules.facility import FacilityRules
from firmware.rules.incidents import Blocks, Reports, Violations
from firmware.rules.journal import Journal
from firmware.rules.languages import LanguagePreferences
from firmware.rules.ledger import Ledger
from firmware.rules.pin_lockouts import PinLockouts
from firmware.rules.usage import UsageCounts
from firmware.store import Store


class Records:
    """The device's record keepers over one store, for one device."""

    def __init__(self, store: Store, rules: FacilityRules, device_id: str) -> None:
        self.journal = Journal(store, device_id)
        self.ledger = Ledger(self.journal)
        self.calls = CallLog(self.journal, self.ledger, rules)
        self.usage = UsageCounts(self.journal, rules)
        self.blocks = Blocks(self.journal)
        self.violations = Violations(self.journal)
        self.reports = Reports(self.journal)
        self.pins = PinLockouts(self.journal)
        self.languages = LanguagePreferences(self.journal)
