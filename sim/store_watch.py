"""The scenario's `[[store]]` checks, run against the simulated device's own store.

Checks marked `when = "always"` run after every record the device prints (so "a balance never went below zero"
means at every committed step, not only at the end); all of them run once more when the run ends.
"""

from __future__ import annotations

from firmware.config import Config
from firmware.rules.service import CallRules
from firmware.store import Store
from sim.expectations import StoreCheck, store_rows


class StoreWatch:
    def __init__(self, config: Config, checks: list[StoreCheck]) -> None:
        self.config = config
        self.checks = checks
        self.failures: list[str] = []
        self._failed: set[int] = set()

    def after_record(self, t_ms: int) -> None:
        self._run([c for c in self.checks if c.when == "always"], t_ms)

    def at_end(self) -> None:
        self._run(self.checks, None)

    def _run(self, checks: list[StoreCheck], t_ms: int | None) -> None:
        pending = [c for c in checks if id(c) not in self._failed]
        if not pending:
            return
        path = self.config.paths.store_path
        store = Store(path)
        try:
            balances = self._balances(store) if any(c.table == "balances" for c in pending) else None
            for check in pending:
                failure = check.failure(store_rows(store.db, check.table, balances), t_ms)
                if failure is not None:
                    self._failed.add(id(check))
                    self.failures.append(failure)
        finally:
            store.close()

    def _balances(self, store: Store) -> dict[str, int]:
        """Debit and prepaid accounts as the handset sees them: the server's balance less what it holds."""
        rules = CallRules.from_config(self.config, store)
        out: dict[str, int] = {}
        for (key,) in store.db.execute("SELECT key FROM central_cache WHERE dataset = 'accounts' ORDER BY key"):
            call_type, _, owner = key.partition(":")
            if call_type in ("debit", "prepaid"):
                cents = rules.balance_cents(call_type, owner)
                if cents is not None:
                    out[key] = cents
        return out
