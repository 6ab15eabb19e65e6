"""Does every dependency in setup.py have a wheel on every platform where
Orange's users install the add-on, at every Python version setup.py admits?

For each Python version and platform, pip resolves the requirements that
apply there (their environment markers evaluated for that platform, not
for this machine) against PyPI, binary wheels only, without installing or
downloading them (``pip install --dry-run --report``, which reads a wheel's
metadata alone where PyPI serves it apart). Prints one table per Python
version: the version pip would install, with the wheel's platform tag
where the wheel is not pure Python, or MISSING.

Not a test: it asks PyPI, and CI must not depend on it. Dependencies of the
dependencies are not followed (their markers would be evaluated for this
machine). Run from the repository root:

    python tools/check_wheels.py [--python 3.11 3.12] [--jobs 3]
"""
import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP = os.path.join(ROOT, "setup.py")

# CPython releases to try; setup.py's python_requires picks among them
PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15")

# The oldest systems first, so that pip prefers (and the table shows) the
# wheel with the lowest system requirement; pip adds older macOS versions
# and universal2 wheels to each macosx tag itself.
MACOS = ("10_9", "10_13", "10_15", "11_0", "12_0", "13_0", "14_0", "15_0")
GLIBC = range(17, 40)  # manylinux_2_17 (manylinux2014) … 2_39 (Ubuntu 24.04)
# what pip says of a requirement it finds no wheel for
NOT_FOUND = re.compile(r"No matching distribution found for (\S+)")


def manylinux(machine):
    return ([f"manylinux2014_{machine}"]
            + [f"manylinux_2_{minor}_{machine}" for minor in GLIBC])


# name: (marker variables that differ from this machine's, pip's tags)
PLATFORMS = {
    "win_amd64": (
        dict(sys_platform="win32", platform_system="Windows",
             platform_machine="AMD64", os_name="nt"),
        ["win_amd64"]),
    "macos_x86_64": (
        dict(sys_platform="darwin", platform_system="Darwin",
             platform_machine="x86_64", os_name="posix"),
        [f"macosx_{version}_x86_64" for version in MACOS]),
    "macos_arm64": (
        dict(sys_platform="darwin", platform_system="Darwin",
             platform_machine="arm64", os_name="posix"),
        [f"macosx_{version}_arm64" for version in MACOS if version >= "11"]),
    "linux_x86_64": (
        dict(sys_platform="linux", platform_system="Linux",
             platform_machine="x86_64", os_name="posix"),
        manylinux("x86_64")),
    "linux_aarch64": (
        dict(sys_platform="linux", platform_system="Linux",
             platform_machine="aarch64", os_name="posix"),
        manylinux("aarch64")),
}


def setup_declarations():
    """setup.py's INSTALL_REQUIRES, EXTRAS_REQUIRE and python_requires,
    read without running it."""
    with open(SETUP, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in ("INSTALL_REQUIRES",
                                           "EXTRAS_REQUIRE"):
            found[node.targets[0].id] = ast.literal_eval(node.value)
        elif isinstance(node, ast.keyword) and node.arg == "python_requires":
            found["python_requires"] = ast.literal_eval(node.value)
    return (found["INSTALL_REQUIRES"], found.get("EXTRAS_REQUIRE", {}),
            found.get("python_requires", ""))


def requirements(install_requires, extras_require):
    """(extra or None, Requirement) for every line, each line once."""
    seen, listed = set(), []
    for extra, lines in [(None, install_requires)] + sorted(
            extras_require.items()):
        for line in lines:
            if line not in seen:
                seen.add(line)
                listed.append((extra, Requirement(line)))
    return listed


def applies(extra, requirement, platform, python):
    """Whether pip would install ``requirement`` (with ``extra`` asked
    for) on ``platform`` at Python ``python``."""
    if requirement.marker is None:
        return True
    environment = default_environment()
    environment.update(PLATFORMS[platform][0])
    environment.update(python_version=python,
                       python_full_version=f"{python}.0",
                       implementation_name="cpython",
                       platform_python_implementation="CPython",
                       extra=extra or "")
    return requirement.marker.evaluate(environment)


def pip_resolve(lines, platform, python):
    """{project name: (version, wheel file)} that pip would install for
    ``lines`` (requirements without markers); or, where it finds no wheel
    for one of them, the line it names (None if it names none)."""
    with tempfile.TemporaryDirectory(prefix="check-wheels-") as folder:
        report = os.path.join(folder, "report.json")
        # --isolated: PyPI alone, without this machine's pip configuration
        # (local indexes, constraints)
        command = [
            sys.executable, "-m", "pip", "--isolated",
            "--disable-pip-version-check", "install", "--dry-run",
            "--ignore-installed", "--no-deps", "--only-binary=:all:",
            "--python-version", python, "--implementation", "cp",
            "--target", os.path.join(folder, "target"), "--report", report,
            "--quiet"]
        for tag in PLATFORMS[platform][1]:
            command += ["--platform", tag]
        done = subprocess.run(command + lines, capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            missing = NOT_FOUND.search(done.stderr)
            return missing and missing.group(1)
        with open(report, encoding="utf-8") as f:
            installs = json.load(f)["install"]
    return {canonicalize_name(item["metadata"]["name"]): (
        item["metadata"]["version"],
        item["download_info"]["url"].rsplit("/", 1)[-1])
        for item in installs}


def wheel_platform(wheel):
    """The platform part of a wheel's name, shortened; '' for pure Python."""
    tag = wheel[:-len(".whl")].split("-")[-1]
    if tag == "any":
        return ""
    tags = tag.split(".")
    # a wheel may carry several tags; the first is enough to read
    return tags[0].replace("manylinux_", "glibc_").replace("macosx_", "macos_")


def cell(resolved, line):
    """What ``resolved`` (pip's answer) holds for ``line``."""
    version, wheel = resolved[canonicalize_name(Requirement(line).name)]
    where = wheel_platform(wheel)
    return f"{version} ({where})" if where else version


def check(listed, platform, python):
    """{line: cell} for ``platform`` and ``python``: what pip installs, or
    MISSING, or '-' where the requirement's marker leaves it out."""
    # the requirements without their markers, which pip would evaluate here
    asked = {str(req): str(req).split(";")[0].strip() for extra, req in listed
             if applies(extra, req, platform, python)}
    cells = {}
    while asked:
        resolved = pip_resolve(list(asked.values()), platform, python)
        if isinstance(resolved, dict):
            cells.update((line, cell(resolved, line)) for line in asked)
            break
        named = [line for line in asked if resolved is not None
                 and canonicalize_name(Requirement(line).name)
                 == canonicalize_name(Requirement(resolved).name)]
        if not named:  # pip names none: ask one by one
            for line, bare in asked.items():
                alone = pip_resolve([bare], platform, python)
                cells[line] = (cell(alone, line) if isinstance(alone, dict)
                               else "MISSING")
            break
        # leave out what pip finds no wheel for, and ask again
        for line in named:
            cells[line] = "MISSING"
            del asked[line]
    return {str(req): cells.get(str(req), "-") for _, req in listed}


def print_table(python, listed, results):
    names = [str(req) for _, req in listed]
    header = ["requirement"] + list(PLATFORMS)
    rows = [[name] + [results[platform][name] for platform in PLATFORMS]
            for name in names]
    widths = [max(len(row[i]) for row in [header] + rows)
              for i in range(len(header))]
    print(f"\nPython {python}")
    for row in [header, ["-" * width for width in widths]] + rows:
        print("  ".join(cell.ljust(width)
                        for cell, width in zip(row, widths)).rstrip())


def main():
    install_requires, extras_require, python_requires = setup_declarations()
    admitted = [python for python in PYTHONS
                if SpecifierSet(python_requires).contains(f"{python}.0")]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", nargs="+", default=admitted,
                        help="Python versions (default: those of PYTHONS "
                             f"that python_requires '{python_requires}' "
                             "admits)")
    parser.add_argument("--jobs", type=int, default=3,
                        help="pip processes at once")
    args = parser.parse_args()

    listed = requirements(install_requires, extras_require)
    combinations = [(platform, python) for python in args.python
                    for platform in PLATFORMS]
    with ThreadPoolExecutor(args.jobs) as pool:
        cells = dict(zip(combinations, pool.map(
            lambda combination: check(listed, *combination),
            combinations)))
    print(f"setup.py: python_requires '{python_requires}'; "
          "'-': the requirement's marker leaves it out there")
    missing = 0
    for python in args.python:
        results = {platform: cells[platform, python]
                   for platform in PLATFORMS}
        print_table(python, listed, results)
        missing += sum(cell == "MISSING" for column in results.values()
                       for cell in column.values())
    print(f"\n{missing} missing")


if __name__ == "__main__":
    main()
