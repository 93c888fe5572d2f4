"""JupyterLab for the UI update benchmark: a replay of 8 GPUs (the two-H200 recording's
GPUs four times over), sampled every 0.25 s (the server's floor)."""

import json
import os
import tempfile

from jupyterlab.galata import configure_jupyter_server

from jupyterlab_gpuscope.monitor.backends.replay import bundled_trace

configure_jupyter_server(c)  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
c.ServerApp.port = 8890  # noqa: F821

records = [json.loads(line) for line in bundled_trace("h200x2-workload.jsonl").read_text().splitlines()]
for record in records:
    key = {"devices": "devices", "sample": "gpus"}.get(record["type"])
    record.pop("topology", None)  # the two GPUs' links say nothing of eight
    if key:
        record[key] = [dict(g, index=g["index"] + 2 * k) for k in range(4) for g in record[key]]
trace = os.path.join(tempfile.mkdtemp(), "eight-h200.jsonl")
with open(trace, "w") as f:
    f.write("\n".join(json.dumps(r) for r in records))

c.GPUScope.backend = "replay"  # noqa: F821
c.GPUScope.replay_trace = trace  # noqa: F821
c.GPUScope.interval_seconds = 0.25  # noqa: F821
