"""The three-hospital scenario (`qkdlink demo`): joint training, private diagnosis, MPyC mean."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Literal

from integrations.hospitals._report import format_report
from integrations.hospitals._scenario import ScenarioOptions, run_scenario

__all__ = ["ScenarioOptions", "format_report", "run_demo", "run_scenario"]


def run_demo(
    *,
    transport: Literal["tcp", "mqtt"] = "tcp",
    json_output: bool = False,
    key_source: Literal["auto", "bb84", "test"] = "auto",
    rounds: int = 300,
    mqtt_host: str = "127.0.0.1",
    mqtt_port: int = 1883,
) -> int:
    """Run the scenario, print the report (text or JSON on stdout, progress on stderr).

    Returns 0 when every check passed, 1 otherwise.
    """
    options = ScenarioOptions(
        transport=transport,
        key_source=key_source,
        rounds=rounds,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    report = asyncio.run(run_scenario(options))
    print(json.dumps(report, indent=2) if json_output else format_report(report))
    return 0 if report["ok"] else 1
