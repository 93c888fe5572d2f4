"""Prometheus's HTTP service discovery from the Hub's users: one target per running server.

Each target is the proxy's address, with the server's path to gpuscope's metrics and the
labels `user` and `server` from the Hub. Prometheus keeps target labels over what a
scraped server says of itself (honor_labels: false), so a student's server cannot pass as
another student's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

METRICS_PATH = "gpuscope/metrics"


def scrape_targets(users: list[dict[str, Any]], proxy_url: str) -> list[dict[str, Any]]:
    """`users`: the Hub's user models (with `servers`); only servers that are ready count."""
    proxy = urlsplit(proxy_url)
    targets = []
    for user in users:
        for server_name, server in sorted((user.get("servers") or {}).items()):
            if not server.get("ready") or not server.get("url"):
                continue
            labels = {
                "__scheme__": proxy.scheme or "http",
                "__metrics_path__": server["url"].rstrip("/") + "/" + METRICS_PATH,
                "user": user["name"],
                "server": server_name,
            }
            targets.append({"targets": [proxy.netloc], "labels": labels})
    return targets
