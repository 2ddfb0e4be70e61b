"""On 200 generated mule networks, the service's holds equal a straightforward whole-ledger replay
(tests/replay.py, which shares no code with stopay), under every rule, across depths and victims."""

from __future__ import annotations

import json
from pathlib import Path

from bank_adapters.simulated.generator import generate, tree
from bank_adapters.simulated.scenario import parse_scenario
from stopay.domain.attribution import RULES
from tests.integration.test_tracing import run_check
from tests.replay import replay

NETWORKS = 200


def network(seed: int) -> dict:
    """Varied on purpose: every rule, depths past max_depth, thresholds, one or two reporting victims."""
    data = generate(seed, rule=RULES[seed % len(RULES)], depth=(1, 7), victims=1 + seed % 2)
    data["checks"][0]["max_depth"] = 3 + seed % 3
    data["checks"][0]["min_amount"] = (10000, 0, 50000)[(seed // 5) % 3]
    return data


async def test_holds_equal_the_whole_ledger_replay_on_generated_networks(make_app, channel_to, tmp_path: Path) -> None:
    mismatches = []
    traced_somewhere = 0
    for seed in range(NETWORKS):
        data = network(seed)
        path = tmp_path / f"net-{seed}.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        scenario = parse_scenario(data)
        expected = replay(scenario, scenario.checks[0])
        held, exited, app = await run_check(make_app, channel_to, path, 0)
        await app.stop()
        traced_somewhere += len(held) > 1
        if (held, exited) != (expected.held, expected.exited):
            differ = {
                a: (held.get(a, 0), expected.held.get(a, 0))
                for a in set(held) | set(expected.held)
                if held.get(a, 0) != expected.held.get(a, 0)
            }
            mismatches.append(f"seed {seed}: held (service, replay) {differ}; exited {exited} vs {expected.exited}")
    print("\n".join(mismatches))
    assert mismatches == []
    # The networks are not trivial: in many the money was held at more than one account.
    assert traced_somewhere > NETWORKS // 4


async def test_a_generated_tree_holds_its_known_sum_at_every_account(make_app, channel_to, tmp_path: Path) -> None:
    """The benchmark's trail network (bench/trail.py), small: one order per account, each holding
    what the account kept."""
    data = tree(fan_out=3, levels=3)
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    scenario = parse_scenario(data)
    held, exited, app = await run_check(make_app, channel_to, path, 0)
    await app.stop()
    assert len(held) == 1 + 3 + 9
    assert (held, exited) == (dict(scenario.checks[0].expect_held), 0)
