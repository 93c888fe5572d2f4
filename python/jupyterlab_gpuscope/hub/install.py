"""`gpuscope-hub-setup`: the files a class on JupyterHub needs, in one folder.

    gpuscope-hub-setup --out /srv/gpuscope --hub-url http://127.0.0.1:8000

writes there, keeping what already exists but the two Prometheus files:
- scrape-token: the token of the Hub service `gpuscope-prometheus` (scope
  custom:gpuscope:scrape), which Prometheus sends when it scrapes;
- prometheus-password: the password of Prometheus's `gpuscope` user (the service's);
- prometheus.yml and web.yml: Prometheus's configuration (from the template beside this
  module) and its web configuration, which puts its API behind that password;
- jupyterhub_config.py: the Hub's configuration with the gpuscope service, its scopes and
  roles (edit the instructors and the class's policy there).
Secrets are written readable by their owner only.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
from pathlib import Path
from string import Template

import bcrypt

from .prometheus import USER

HERE = Path(__file__).parent
PROMETHEUS_TEMPLATE = HERE / "prometheus.yml"
HUB_CONFIG = HERE / "jupyterhub_config.py"


def _secret(path: Path) -> str:
    """The secret in `path`, made when missing."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


def write_prometheus_config(out: Path, *, hub_url: str, password: str, scrape_interval: str = "15s") -> list[Path]:
    seconds = float(scrape_interval.rstrip("s"))
    config = Template(PROMETHEUS_TEMPLATE.read_text()).substitute(
        scrape_interval=scrape_interval,
        scrape_timeout=f"{min(seconds, 10):g}s",
        refresh_interval=f"{max(seconds, 5):g}s",
        token_file=json.dumps(str(out / "scrape-token")),
        service_url=hub_url.rstrip("/") + "/services/gpuscope/",
    )
    prometheus_yml = out / "prometheus.yml"
    prometheus_yml.write_text(config)
    web_yml = out / "web.yml"
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
    fd = os.open(web_yml, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(f"basic_auth_users:\n  {USER}: {json.dumps(hashed)}\n")
    return [prometheus_yml, web_yml]


def set_up(out: Path, *, hub_url: str, scrape_interval: str = "15s") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    _secret(out / "scrape-token")
    password = _secret(out / "prometheus-password")
    written = write_prometheus_config(out, hub_url=hub_url, password=password, scrape_interval=scrape_interval)
    hub_config = out / "jupyterhub_config.py"
    if not hub_config.exists():
        shutil.copyfile(HUB_CONFIG, hub_config)
    return [out / "scrape-token", out / "prometheus-password", *written, hub_config]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gpuscope-hub-setup", description="Write the files of a gpuscope class on JupyterHub (docs/hub.md)."
    )
    parser.add_argument("--out", type=Path, required=True, help="the class's folder, e.g. /srv/gpuscope")
    parser.add_argument(
        "--hub-url",
        default="http://127.0.0.1:8000",
        help="the Hub's proxy as Prometheus reaches it (default: %(default)s)",
    )
    parser.add_argument("--scrape-interval", default="15s", help="seconds between scrapes, e.g. 15s (the default)")
    args = parser.parse_args(argv)
    number = args.scrape_interval[:-1]
    if not args.scrape_interval.endswith("s") or not number.replace(".", "", 1).isdigit() or float(number) <= 0:
        parser.error(f"--scrape-interval must be seconds such as 15s, not {args.scrape_interval!r}")
    try:
        written = set_up(args.out.resolve(), hub_url=args.hub_url, scrape_interval=args.scrape_interval)
    except OSError as error:
        print(f"gpuscope-hub-setup: {error}", file=sys.stderr)
        return 2
    print("\n".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
