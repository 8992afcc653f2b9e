"""Crash test: SIGKILL the service at random points of replayed sessions, restart it, and compare.

Each session replays the same day (speed 0) for its own account with chaos on — a share of
orders rejected, the broker link dropping after some filling bars, fills' reports lost
with it — and is killed once or twice at a random moment (the parent watches the
decisions table and kills as it passes a random count, so the kill lands anywhere inside
a bar: between the write-ahead and the send, between the venue's fill and its booking...).
After the final, uninterrupted restart the session must be exactly what an uninterrupted
run with the same chaos produced: the same orders at the venue (no duplicate, none
missing), the same fills booked once each (none lost), positions equal to the broker's,
flat at the close.
"""

import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from paper_data import DAY

from ijules_core.eod import EODContext, Status, flat_at_close, no_limit_breach
from ijules_core.paper.service import Service, ServiceOptions
from ijules_core.paper.trader import PaperConfig
from ijules_core.store.db import connect

SESSIONS = 20
SEEDS = 4  # chaos seeds; the sessions of a seed share one uninterrupted reference run
CHAOS = dict(reject_rate=0.1, disconnect_rate=0.2)
RUNNER = """
import datetime, sys
from ijules_core.eod import EODContext, Status, flat_at_close, no_limit_breach
from ijules_core.paper.service import Service, ServiceOptions
from ijules_core.paper.trader import PaperConfig
url, account, seed, day = sys.argv[1], sys.argv[2], int(sys.argv[3]), datetime.date.fromisoformat(sys.argv[4])
Service(ServiceOptions(paper=PaperConfig(account=account), replay=day, speed=0, model="random", metrics_port=None,
                       seed=seed, reject_rate={reject_rate}, disconnect_rate={disconnect_rate}), url).run()
""".format(**CHAOS)


def options(account: str, seed: int) -> ServiceOptions:
    return ServiceOptions(paper=PaperConfig(account=account), replay=DAY, speed=0, model="random", metrics_port=None,
                          seed=seed, **CHAOS)


def ledger(conn, account: str) -> dict:
    """The venue's books and the service's, with the account taken out of the ids."""
    def strip(coid):
        return coid.split("-", 1)[1] if coid else coid

    venue_orders = conn.execute("SELECT client_order_id, qty, status FROM trading.sim_orders WHERE account = %s "
                                "ORDER BY seq", (account,)).fetchall()
    venue_fills = conn.execute("SELECT exec_id, client_order_id, symbol, qty, price, ts FROM trading.sim_fills "
                               "WHERE account = %s ORDER BY seq", (account,)).fetchall()
    booked = conn.execute("SELECT exec_id, client_order_id, symbol, qty, price, ts FROM trading.fills "
                          "WHERE account = %s ORDER BY ts, exec_id", (account,)).fetchall()
    positions = dict(conn.execute("SELECT symbol, sum(qty) FROM trading.sim_fills WHERE account = %s GROUP BY 1",
                                  (account,)).fetchall())
    session = conn.execute("SELECT status, report FROM trading.sessions WHERE account = %s", (account,)).fetchone()
    snapshot = conn.execute("SELECT held FROM trading.positions p JOIN trading.sessions s USING (session_id) "
                            "WHERE account = %s ORDER BY p.ts DESC LIMIT 1", (account,)).fetchone()
    conn.commit()
    return {"orders": [(strip(c), q, s) for c, q, s in venue_orders],
            "fills": [(e, strip(c), *rest) for e, c, *rest in venue_fills],
            "booked": sorted((e, strip(c), *rest) for e, c, *rest in booked),
            "positions": positions, "status": session[0], "report": session[1], "held": snapshot[0]}


def run_with_kills(url: str, account: str, seed: int, kills: int, rng: random.Random) -> int:
    """Run the session in subprocesses, SIGKILLing it as the decisions pass random counts; returns kills made."""
    targets = sorted(rng.sample(range(5, 385), kills))
    made = 0
    with connect(url, autocommit=True) as conn:
        for target in [*targets, None]:
            proc = subprocess.Popen([sys.executable, "-c", RUNNER, url, account, str(seed), str(DAY)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            while target is not None and proc.poll() is None:
                n = conn.execute("SELECT count(*) FROM trading.decisions WHERE session_id = %s",
                                 (f"{account}:{DAY}",)).fetchone()[0]
                if n >= target:
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.002)
            _, err = proc.communicate(timeout=120)
            if proc.returncode == -signal.SIGKILL:
                made += 1
            else:
                assert proc.returncode == 0, err.decode()[-3000:]
    return made


def test_killed_sessions_lose_nothing_and_duplicate_nothing(market_url):
    references = {}
    with connect(market_url, autocommit=True) as conn:
        for seed in range(SEEDS):
            Service(options(f"ref{seed}", seed), market_url).run()
            references[seed] = ledger(conn, f"ref{seed}")
    rng = random.Random(20251124)
    plans = [(f"crash{i}", i % SEEDS, rng.choice([1, 2]), random.Random(i)) for i in range(SESSIONS)]
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        kills = list(pool.map(lambda p: run_with_kills(market_url, *p), plans))
    elapsed = time.perf_counter() - start
    assert sum(kills) >= SESSIONS, f"only {sum(kills)} kills landed"
    with connect(market_url, autocommit=True) as conn:
        for account, seed, _, _ in plans:
            got, ref = ledger(conn, account), references[seed]
            assert got["status"] == "CLOSED" and got["report"]["flat"], account
            assert got["orders"] == ref["orders"], f"{account}: venue orders differ (duplicate or missing)"
            assert got["fills"] == ref["fills"], f"{account}: venue fills differ"
            assert got["booked"] == sorted(got["fills"]), f"{account}: a fill lost, booked twice or invented"
            assert got["held"] == {s: int(got["positions"].get(s, 0)) for s in got["held"]}, \
                f"{account}: positions differ from the broker's"
            assert abs(got["report"]["equity"] - ref["report"]["equity"]) < 1e-6
            assert (got["report"]["fills"], got["report"]["orders"]) == (ref["report"]["fills"], ref["report"]["orders"])
    with connect(market_url) as conn:  # every session of the day, references included: flat, within limits
        ctx = EODContext(DAY, ["NVDA", "MSFT"])
        assert flat_at_close(conn, ctx).status is Status.PASS
        breach = no_limit_breach(conn, ctx)
        assert breach.status is Status.PASS, breach.detail
    print(f"\ncrash test: {SESSIONS} sessions, {sum(kills)} SIGKILLs, {elapsed:.1f} s; "
          f"{sum(len(references[s]['fills']) for _, s, _, _ in plans)} fills and "
          f"{sum(len(references[s]['orders']) for _, s, _, _ in plans)} orders checked: 0 duplicates, 0 lost")
