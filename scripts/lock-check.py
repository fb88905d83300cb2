"""Does the virtualenv hold what pyproject.toml asks for? Run after installing a lock file (scripts/test, scripts/demo).

`pip install --require-hashes -r requirements.lock` installs exactly the lock, so a dependency added to
pyproject.toml but not yet locked would be missing without a word; this names it and says to run scripts/lock.
Usage: python scripts/lock-check.py [EXTRA...]   (e.g. `test`)
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, requires, version

from packaging.requirements import Requirement


def main(extras: list[str]) -> int:
    problems = []
    for line in requires("conference") or []:
        req = Requirement(line)
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in ["", *extras]):
            continue
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            problems.append(f"{req.name} is not installed")
            continue
        if not req.specifier.contains(installed, prereleases=True):
            problems.append(f"{req.name} {installed} does not satisfy {req.specifier}")
    for problem in problems:
        print(
            f"lock file out of date: {problem} (pyproject.toml asks for it): run ./scripts/lock",
            file=sys.stderr,
        )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
