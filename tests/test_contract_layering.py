"""The consumers import the wire contract without loading the HTTP stack."""

from __future__ import annotations

import subprocess
import sys


def test_contract_does_not_load_starlette_or_uvicorn() -> None:
    code = (
        "import sys, bridge.contract, consumers\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'starlette', 'uvicorn', 'aiokafka'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the contract pulled in: {out.stdout.strip()}"
