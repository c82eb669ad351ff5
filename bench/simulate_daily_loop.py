"""`parcours simulate` on ten years of a daily loop: how long the dry run takes (the issue asks for seconds).

Runs the real command line twice, as a care manager would: the test daily loop (tests/cli/data/daily_loop.bpmn:
one work item and one timer a day) and the shipped heart-failure pathway with its daily self-weighing made to last
ten years (--context '{"nb_jours_pesee": 3650}'). Prints wall and CPU seconds, steps per second, the final state.

    .venv/bin/python bench/simulate_daily_loop.py [--days 3650]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PARCOURS = REPO / ".venv" / "bin" / "parcours"
CASES = {
    "daily_loop": [str(REPO / "tests" / "cli" / "data" / "daily_loop.bpmn")],
    "insuffisance_cardiaque": [str(REPO / "workflows" / "bpmn" / "insuffisance_cardiaque.bpmn")],
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(name: str, days: int) -> dict[str, object]:
    args = [str(PARCOURS), "simulate", *CASES[name], "--days", str(days), "--json",
            "--start", "2026-11-23T08:00:00+01:00"]
    if name == "insuffisance_cardiaque":
        args += ["--context", json.dumps({"nb_jours_pesee": days})]
    cpu0, wall0 = _cpu(), time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=REPO)
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    summary = json.loads(out.stdout)["summary"]
    steps = int(summary["work_items_completed"]) + int(summary["timers_fired"])
    return {"case": name, "days": days, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "steps": steps,
            "steps_per_s": round(steps / wall, 1), "status": summary["status"], "state_bytes": summary["state_bytes"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3650)
    args = parser.parse_args()
    rows = [run(name, args.days) for name in CASES]
    print(f"{'case':<24} {'days':>5} {'wall s':>7} {'CPU s':>6} {'steps':>6} {'steps/s':>8} {'state B':>8} status")
    for r in rows:
        print(f"{r['case']:<24} {r['days']:>5} {r['wall_s']:>7} {r['cpu_s']:>6} {r['steps']:>6} {r['steps_per_s']:>8} "
              f"{r['state_bytes']:>8} {r['status']}")
    print(json.dumps({"bench": "simulate_daily_loop", "runs": rows}))


if __name__ == "__main__":
    main()
