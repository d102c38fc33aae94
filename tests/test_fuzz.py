"""A short seeded fuzz campaign (bench/fuzz.py) in CI: no traceback, no hang, no input over
600 MB of host memory on the readelf, modinfo, link, relocs and run paths.

The campaign is fixed (seed 0, the same inputs every time, the committed samples as seed
modules), so a failure here is reproducible with ``python bench/fuzz.py --seed 0 --replay
INDEX --paths PATH``. It takes about 15 s on two workers; the long campaigns are in the
closing note of issue 10. Every crash a campaign ever found is a test of its own in
tests/test_hostile_link.py (the linker's) or the emulator's hostile suite.
"""

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import fuzz  # noqa: E402


# Crashes of the run path whose cause is in the emulator (issue 10, being fixed there), by
# signature. test_run_path allows these; test_run_path_is_clean expects none and is a strict
# xfail, so fixing the last of them turns it into a failure: remove it from here then.
KNOWN_RUN_CRASHES = {
    # a section renamed __param: parse_args reads kernel_param records from whatever the
    # section holds and follows their name pointers into unmapped memory (emulator/modules.py
    # module_params -> kernel_params.read_params -> Machine.read_cstring)
    "run: MemoryFault emulator/machine.py:_read_reserved",
}


def _check(camp, allowed=()):
    new = {sig: e["first"] for sig, e in camp.crashes.items() if sig not in allowed}
    assert not new, camp.summary() + "\n\n" + "\n".join(c.get("trace", "") for c in new.values())
    for path in camp.cfg.paths:
        assert sum(v for (p, _), v in camp.counts.items() if p == path) == camp.done_inputs
        assert camp.peak.get(path, (0, 0))[0] < camp.cfg.max_rss_mb, camp.summary()


def test_linker_paths():
    """readelf, modinfo, link and relocs: 600 inputs."""
    camp = fuzz.run_campaign(seed=0, inputs=600, paths=("readelf", "modinfo", "link", "relocs"),
                             jobs=2)
    _check(camp)
    assert camp.done_inputs == 600
    # the campaign exercises both answers of the loader, not only refusals
    assert camp.counts[("link", "ok")] > 100 and camp.counts[("link", "refused")] > 100


_RUN = {}


@pytest.fixture
def run_campaign():
    """Load, init, exit and unload in a fresh Kernel: 150 inputs, run once for both tests
    (inside a test: conftest's per-test Kernel patching is in force, as for any Kernel)."""
    if "camp" not in _RUN:
        _RUN["camp"] = fuzz.run_campaign(seed=0, inputs=150, start=100_000, paths=("run",), jobs=2)
    return _RUN["camp"]


def test_run_path(run_campaign):
    _check(run_campaign, KNOWN_RUN_CRASHES)
    assert run_campaign.counts[("run", "ok")] > 20


@pytest.mark.xfail(strict=True, reason="known emulator-side crashes of the run path: "
                                       "KNOWN_RUN_CRASHES")
def test_run_path_is_clean(run_campaign):
    _check(run_campaign)


def test_inputs_depend_only_on_seed_and_index():
    seeds = fuzz.load_seeds()
    a = fuzz.make_input(7, 123, seeds)
    b = fuzz.make_input(7, 123, seeds)
    assert a[0] is b[0] and a[1] == b[1] and a[2] == b[2]
    assert fuzz.make_input(8, 123, seeds)[1] != a[1] or fuzz.make_input(8, 123, seeds)[2] != a[2]


def test_a_crash_is_caught_with_its_signature(monkeypatch, tmp_path):
    """The machinery itself: an exception, a hang and host memory over the limit in a path
    are each one distinct crash, saved with its rebuild line; the campaign goes on."""
    def boom(data, seed):
        if data[:1] == b"\x7f" and len(data) % 3 == 0:
            raise ValueError("boom")
        if len(data) % 3 == 1 and len(data) % 5 == 0:
            import time
            time.sleep(30)
        if len(data) % 3 == 1 and len(data) % 5 == 1:
            big = bytearray(700 << 20)
            big[::4096] = b"x" * len(big[::4096])
        return "ok"

    monkeypatch.setitem(fuzz.RUNNERS, "link", boom)
    camp = fuzz.run_campaign(seed=3, inputs=60, paths=("link",), jobs=2, crash_dir=tmp_path,
                             kill=1.0)
    sigs = set(camp.crashes)
    assert any(s.startswith("link: ValueError ") and "test_fuzz.py:boom" in s for s in sigs), sigs
    assert any(s.startswith("link: Hang ") for s in sigs), sigs
    assert "link: HostMemory link" in sigs, sigs
    assert camp.done_inputs == 60
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert len([n for n in saved if n.endswith(".txt")]) == len(sigs)
    text = next(tmp_path.glob("*.txt")).read_text()
    assert "rebuild: python bench/fuzz.py --seed 3 --replay" in text
