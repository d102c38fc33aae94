"""Shared fixtures: where the samples and ../shared live, and skips when they do not."""

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SHARED = ROOT.parent / "shared"
GOLDEN = SHARED / "golden" / "seed-modules"


def sample_objects():
    """Every committed sample object: hobby ``.o`` and Linux ``.ko``."""
    return sorted(SAMPLES.glob("hobby/*.o")) + sorted(SAMPLES.glob("linux/*/*.ko"))


def golden_modules():
    return sorted(GOLDEN.glob("*/*.ko")) if GOLDEN.is_dir() else []


@pytest.fixture
def samples_dir():
    return SAMPLES


@pytest.fixture
def need_tool():
    def need(name):
        if shutil.which(name) is None:
            pytest.skip(f"{name} is not installed")
    return need
