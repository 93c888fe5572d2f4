"""nvidia-smi's CSV queries as rows of fields, for the scripts that check gpuscope's
figures against it on a machine with an NVIDIA GPU."""

from __future__ import annotations

import subprocess


def query(target: str, fields: str) -> list[list[str]]:
    """`nvidia-smi --query-<target>=<fields>` (target "gpu" or "compute-apps"), one list of
    fields per row, in MiB and percent (no units)."""
    out = subprocess.run(
        ["nvidia-smi", f"--query-{target}={fields}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [[part.strip() for part in line.split(",")] for line in out.splitlines() if line.strip()]
