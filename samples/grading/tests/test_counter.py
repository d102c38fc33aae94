"""Grading tests of the counter lab (README.md): ``kmodsim grade samples/grading/tests
SUBMISSION...``, or ``pytest samples/grading/tests --submission counter.ko`` for one.

Each test gets a fresh kernel; ``lab`` is that kernel with the submission
(emulator.grading.lab.Lab): ``lab.load(...)`` fails the test with the reason when insmod
fails, ``lab.assert_clean()`` when the log shows an oops, WARN, BUG or lockup.
"""

import errno

import pytest


@pytest.mark.points(2)
def test_loads_with_defaults(lab):
    """insmod counter.ko prints start, steps and the sum"""
    lab.load()
    assert lab.messages("counter") == ["counter: start=0 steps=3", "counter: sum=3"], \
        "insmod counter.ko should print 'counter: start=0 steps=3' and 'counter: sum=3'"
    lab.assert_clean()


@pytest.mark.points(2)
def test_parameters(lab):
    """start=5 steps=4: the sum is 26 and the parameters show in /sys"""
    lab.load(start=5, steps=4)
    assert "counter: sum=26" in lab.messages("counter"), \
        "insmod counter.ko start=5 steps=4 should print 'counter: sum=26'"
    assert lab.read("/sys/module/counter/parameters/start") == "5\n"
    assert lab.read("/sys/module/counter/parameters/steps") == "4\n"
    lab.assert_clean()


@pytest.mark.points(2)
def test_proc_file(lab):
    """/proc/counter shows start, steps and the sum"""
    lab.load(start=2, steps=2)
    assert lab.read("/proc/counter") == "start=2 steps=2 sum=5\n"


@pytest.mark.points(1)
def test_rejects_bad_steps(lab):
    """steps=0 is refused with EINVAL and a message"""
    result = lab.insmod(steps=0)
    assert result.rc == -errno.EINVAL, \
        f"insmod counter.ko steps=0 should fail with EINVAL (got rc={result.rc}, signal={result.signal})"
    assert "counter: invalid steps 0" in lab.messages("counter")
    assert not lab.is_loaded()


@pytest.mark.points(2)
def test_unloads(lab):
    """rmmod counter prints bye and removes /proc/counter"""
    lab.load()
    lab.unload()
    assert "counter: bye" in lab.messages("counter")
    assert not lab.is_loaded()
    with pytest.raises(FileNotFoundError):
        lab.read("/proc/counter")
    lab.assert_clean()


@pytest.mark.hidden
@pytest.mark.points(1)
def test_load_unload_twice(lab):
    """two load/unload cycles leave the kernel clean"""
    for start in (1, 7):
        lab.load(start=start, steps=5)
        lab.unload()
    lab.assert_clean()
