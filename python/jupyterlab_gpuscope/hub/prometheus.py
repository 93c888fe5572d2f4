"""The service's client for Prometheus's query API (behind the password in web.yml)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

USER = "gpuscope"


class PrometheusError(Exception):
    """Prometheus could not be asked, or refused the query."""


class Prometheus:
    def __init__(self, url: str, password: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._auth = "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()
        self.timeout = timeout

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant vector: each series as its labels plus `value`."""
        request = HTTPRequest(
            f"{self.url}/api/v1/query?{urlencode({'query': expr})}",
            headers={"Authorization": self._auth},
            request_timeout=self.timeout,
        )
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as error:
            raise PrometheusError(f"Prometheus answered {error.code} to {expr!r}") from error
        except OSError as error:
            raise PrometheusError(f"Prometheus at {self.url} cannot be reached: {error}") from error
        body = json.loads(response.body)
        if body.get("status") != "success" or body["data"]["resultType"] != "vector":
            raise PrometheusError(f"Prometheus could not answer {expr!r}: {body.get('error')}")
        return [{**series["metric"], "value": float(series["value"][1])} for series in body["data"]["result"]]
