"""The environment files follow pyproject.toml, as the seed's export habit asks."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_deps() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {d.replace(" ", "") for d in data["project"]["dependencies"]}


def test_requirements_txt_matches_pyproject():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    reqs = {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}
    assert reqs == _pyproject_deps()


def test_environment_yml_matches_pyproject():
    text = (ROOT / "environment.yml").read_text()
    conda = set(re.findall(r"^  - ([a-z][\w-]*[<>=]=?[\d.]+)$", text, re.M))
    conda.discard("python>=3.11")
    assert conda == _pyproject_deps()
    assert "python>=3.11" in text


def test_console_script_is_declared():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["scripts"]["scratchnet"] == "scratchnet.cli:main"


def test_import_is_light():
    """``import scratchnet`` must not pull in matplotlib, tqdm or torch."""
    import subprocess
    import sys

    code = (
        "import sys, scratchnet; "
        "print(','.join(m for m in ('matplotlib', 'torch', 'tqdm', 'pooch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
