"""pyproject.toml (optional extras included) and environment.yml pin the same packages at the same versions."""

from __future__ import annotations

import re
import tomllib

from tests.notebook_tools import REPO_ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([0-9][A-Za-z0-9.+]*)$")


def pyproject_pins() -> dict[str, str]:
    """The pins of the dependencies and of every optional extra."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    dependencies = project["dependencies"] + [dep for extra in project["optional-dependencies"].values() for dep in extra]
    pins = dict(PIN.match(dep).groups() for dep in dependencies)
    assert len(pins) == len(dependencies), "every dependency is pinned with =="
    return pins


def environment_pins() -> dict[str, str]:
    lines = (REPO_ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    entries = [line.strip().removeprefix("- ") for line in lines[start + 1:] if line.startswith("      - ")]
    assert "-e ." in entries, "environment.yml installs the course library itself"
    return dict(PIN.match(entry).groups() for entry in entries if entry != "-e .")


def test_environment_yml_pins_equal_pyproject_pins():
    assert environment_pins() == pyproject_pins()


def test_python_is_3_11_in_both():
    assert "  - python=3.11" in (REPO_ROOT / "environment.yml").read_text().splitlines()
    assert tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"] == ">=3.11,<3.12"


def test_torch_is_the_cpu_release_the_course_uses():
    assert pyproject_pins()["torch"] == "2.13.0"
