"""The risk governor as a running service needs it: the broker link, standing aside, restarts.

`RiskGovernor` judges decisions from what one process saw. A service also knows when the
broker link is down (no new risk until it is back: REDUCING), can be told to flatten and
stand aside for the rest of the session (HALTED until the next session, unlike the kill
switch), and must carry its counters and state across a restart — the kill switch and a
drawdown halt above all — so it can `snapshot` itself and `restore` from one.
"""

from __future__ import annotations

import math

from ijules_core.risk import ACTIVE, HALTED, REDUCING, GovernorState, RiskGovernor


class ServiceGovernor(RiskGovernor):
    link_down = False
    _state_before_link_down = ACTIVE

    def broker_disconnected(self, ts: int, reason: str = "broker disconnected") -> None:
        if not self.link_down:
            self.link_down, self._state_before_link_down = True, self.state
        if self.state is ACTIVE:
            self._set(REDUCING, ts, reason)

    def broker_reconnected(self, ts: int) -> None:
        """Back to the state the link took it from; the loss layer judges again at the next review."""
        was_active = self._state_before_link_down is ACTIVE
        if self.link_down and self.state is REDUCING and was_active:
            self._set(ACTIVE, ts, "broker reconnected and reconciled")
        self.link_down = False

    def update_loss_state(self, ts: int, equity: float) -> None:
        super().update_loss_state(ts, equity)
        if self.link_down and self.state is ACTIVE:  # the loss layer must not lift a link-down REDUCING
            self._set(REDUCING, ts, "broker disconnected")

    def stand_aside(self, ts: int, reason: str) -> None:
        """Flatten and trade no more this session; `start_session` lifts it (the kill switch it does not)."""
        self._set(HALTED, ts, reason)

    def snapshot(self) -> dict:
        """State and counters as JSON (non-finite numbers as null); the event history is persisted apart."""
        return {"state": self.state.value, "kill_switch": self.kill_switch, "drawdown_halt": self._drawdown_halt,
                "link_down": self.link_down, "before_link_down": self._state_before_link_down.value,
                "session_start_equity": _finite(self.session_start_equity), "peak_equity": _finite(self.peak_equity),
                "orders_today": self.orders_today, "orders_this_minute": self.orders_this_minute,
                "minute": self._minute, "refusals": self.refusals}

    def restore(self, snap: dict) -> None:
        self.state = GovernorState(snap["state"])
        self.kill_switch, self._drawdown_halt = snap["kill_switch"], snap["drawdown_halt"]
        self.link_down, self._state_before_link_down = snap["link_down"], GovernorState(snap["before_link_down"])
        start, peak = snap["session_start_equity"], snap["peak_equity"]
        self.session_start_equity = math.nan if start is None else start
        self.peak_equity = -math.inf if peak is None else peak
        self.orders_today, self.orders_this_minute = snap["orders_today"], snap["orders_this_minute"]
        self._minute, self.refusals = snap["minute"], snap["refusals"]


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
