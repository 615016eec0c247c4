"""Is this environment the one the notebooks were executed with?"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

__all__ = ["REPOSITORY_ROOT", "KEY_PACKAGES", "PackageCheck", "pinned_versions", "check_packages", "machine_summary"]

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
KEY_PACKAGES = ("torch", "torchinfo", "numpy", "matplotlib", "ipywidgets", "jupyterlab", "nbval", "pillow", "fonttools", "tqdm")


@dataclass(frozen=True)
class PackageCheck:
    package: str
    installed: str | None
    pinned: str | None

    @property
    def matches(self) -> bool:
        # A local build label (torch 2.13.0+cpu) satisfies the pin 2.13.0, as pip reads it.
        return self.installed is not None and self.installed.split("+")[0] == self.pinned


def pinned_versions(constraints: Path | None = None) -> dict[str, str]:
    """``{package: version}`` from ``constraints.txt`` (names lower-cased)."""
    path = REPOSITORY_ROOT / "constraints.txt" if constraints is None else Path(constraints)
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def check_packages(packages=KEY_PACKAGES, constraints: Path | None = None) -> list[PackageCheck]:
    """Installed against pinned version for each package."""
    pins = pinned_versions(constraints)
    rows = []
    for package in packages:
        try:
            installed = metadata.version(package)
        except metadata.PackageNotFoundError:
            installed = None
        rows.append(PackageCheck(package, installed, pins.get(package.lower().replace("_", "-"))))
    return rows


def machine_summary() -> dict[str, str]:
    """Python, CPU threads and accelerator: what the timings in the lessons depend on."""
    return {
        "python": platform.python_version(),
        "cpu cores": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "CUDA available": str(torch.cuda.is_available()),
    }
