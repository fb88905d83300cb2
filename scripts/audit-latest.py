"""A fallback audit for when pip-audit's services can't be reached (as on machines that reach the package index
only through its project pages): the index's project JSON (`<index>/pypi/NAME/json`, on the index pip is
configured with) lists the known vulnerabilities of the project's latest release, so every pin that IS the latest release can still be checked against PyPA's advisory
database. Pins older than the latest release are reported as not audited, never as clean.

Exit 0: every pin audited and clean; 1: a known vulnerability; 3: clean, but some pins could not be audited.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from pip._internal.models.index import PyPI  # pip's default index, when none is configured

PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", re.M)


def index_base() -> str:
    """The configured package index's root (its simple API's URL without /simple), as pip would use it."""
    configured = (
        os.environ.get("PIP_INDEX_URL")
        or subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"], capture_output=True, text=True
        ).stdout.strip()
    )
    simple = configured or PyPI.simple_url
    return simple.rstrip("/").removesuffix("/simple")


def main(lock: str) -> int:
    pins = PIN.findall(Path(lock).read_text())
    vulnerable, unaudited, errors = [], [], []
    with httpx.Client(base_url=index_base(), timeout=20, follow_redirects=True) as client:
        for name, version in pins:
            try:
                answer = client.get(f"/pypi/{name}/json")
                answer.raise_for_status()
                data = answer.json()
            except (httpx.HTTPError, ValueError) as exc:
                errors.append(f"{name}: {type(exc).__name__}")
                continue
            if data["info"]["version"] != version:
                unaudited.append(f"{name}=={version} (latest {data['info']['version']})")
                continue
            for vuln in data.get("vulnerabilities") or []:
                if not vuln.get("withdrawn"):
                    fixed = ", ".join(vuln.get("fixed_in") or []) or "no fixed release yet"
                    vulnerable.append(f"{name}=={version}: {vuln.get('id')} (fixed in: {fixed})")
    for line in vulnerable:
        print(f"  {line}", file=sys.stderr)
    audited = len(pins) - len(unaudited) - len(errors)
    print(
        f"== the package index's project pages: {audited} of {len(pins)} pins audited (each is its project's latest release), "
        f"{len(vulnerable)} known vulnerabilities ==",
        file=sys.stderr,
    )
    if unaudited or errors:
        print(f"== not audited: {', '.join(unaudited + errors)} ==", file=sys.stderr)
    return 1 if vulnerable else 3 if (unaudited or errors) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "requirements.lock"))
