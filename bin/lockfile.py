"""Keep requirements.lock in step with pyproject.toml's runtime dependencies, offline.

`make lock` runs pip-compile (which needs the package index, and a minute or two), then
`stamp`, which writes the dependency list it was made from into the lock's header. `make
lock-check` runs `check`, which needs neither the index nor pip-compile: it fails when
pyproject.toml's dependencies (or requires-python) differ from the stamped list, or when a
dependency has no pin in the lock that satisfies it. So a dependency added to pyproject.toml
without `make lock` fails CI, in a second.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
STAMP_START = "# pyproject.toml's runtime dependencies when this lock was made (make lock-check):"
STAMP_LINE = "#   "
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def declared(pyproject: Path = PYPROJECT) -> list[str]:
    """Return requires-python and the runtime dependencies, as pyproject.toml spells them."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return [f"python{project['requires-python']}", *project["dependencies"]]


def stamped(lock_text: str) -> list[str] | None:
    """Return the dependency list stamped in the lock's header, or None when it has none."""
    lines = lock_text.splitlines()
    if STAMP_START not in lines:
        return None
    entries = []
    for line in lines[lines.index(STAMP_START) + 1 :]:
        if not line.startswith(STAMP_LINE):
            break
        entries.append(line.removeprefix(STAMP_LINE))
    return entries


def pins(lock_text: str) -> dict[str, str]:
    """Return the lock's pinned versions by canonical package name."""
    found: dict[str, str] = {}
    for line in lock_text.splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def stamp(lock: Path, pyproject: Path = PYPROJECT) -> None:
    """Write pyproject.toml's current dependency list into the lock, after pip-compile's header."""
    lines = lock.read_text().splitlines()
    if STAMP_START in lines:
        start = lines.index(STAMP_START)
        end = start + 1
        while end < len(lines) and lines[end].startswith(STAMP_LINE):
            end += 1
        del lines[start : end + 1]  # and the "#" that closes the block
    header_end = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    block = [STAMP_START, *(STAMP_LINE + entry for entry in declared(pyproject)), "#"]
    lock.write_text("\n".join([*lines[:header_end], *block, *lines[header_end:]]) + "\n")


def problems(lock: Path, pyproject: Path = PYPROJECT) -> list[str]:
    """Return what is out of step between the lock and pyproject.toml (empty: nothing)."""
    if not lock.exists():
        return [f"{lock.name} is missing"]
    text = lock.read_text()
    wanted = declared(pyproject)
    found: list[str] = []
    made_from = stamped(text)
    if made_from is None:
        found.append(f"{lock.name} has no stamped dependency list")
    elif made_from != wanted:
        found.extend(
            f"added or changed since the lock: {entry}"
            for entry in wanted
            if entry not in made_from
        )
        found.extend(
            f"removed or changed since the lock: {entry}"
            for entry in made_from
            if entry not in wanted
        )
    pinned = pins(text)
    for entry in wanted[1:]:
        requirement = Requirement(entry)
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None:
            found.append(f"{requirement.name} has no pin in {lock.name}")
        elif not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{requirement.name}=={version} in {lock.name} is not {requirement}")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["stamp", "check"])
    parser.add_argument("lock", type=Path)
    arguments = parser.parse_args(argv)
    if arguments.command == "stamp":
        stamp(arguments.lock)
        return 0
    found = problems(arguments.lock)
    for problem in found:
        print(f"lock-check: {problem}", file=sys.stderr)
    if found:
        print("lock-check: run `make lock` and commit requirements.lock.", file=sys.stderr)
        return 1
    print(f"lock-check: {arguments.lock.name} is in step with pyproject.toml.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
