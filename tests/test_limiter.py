"""QEMU's rate-limiter arithmetic (iotests 185 and 219), without a simulator."""

import pytest

from sim.policies.limiter import SLICE_NS, RateLimit2013, RateLimitFractional

CLUSTER = 64 * 1024


def copies_in(limiter, seconds: float, cluster: int = CLUSTER, copy_ns: int = 1000) -> int:
    """Drive a limiter like the job does: delay for the previous cluster, sleep, copy (1 us)."""
    now, pending, copies = 0, 0, 0
    end = int(seconds * 1e9)
    while True:
        now += limiter.delay(now, pending)
        if now >= end:
            return copies
        copies += 1
        now += copy_ns
        pending = cluster


@pytest.mark.parametrize("speed,per_second", [(64 * 1024, 1), (256 * 1024, 4)])
def test_fractional_limiter_matches_iotests_185_and_219(speed, per_second):
    # quota = speed * 100 ms; one 64 KiB cluster needs 65536 / quota slices of waiting
    lim = RateLimitFractional(speed)
    assert lim.quota == int(speed * SLICE_NS / 1e9)
    first_wait = (lim.delay(0, 0), lim.delay(0, CLUSTER))
    assert first_wait[0] == 0
    assert first_wait[1] == int(CLUSTER / lim.quota * SLICE_NS)
    assert copies_in(RateLimitFractional(speed), 10.0) == pytest.approx(10 * per_second, abs=1)


def test_fractional_long_run_rate_is_the_speed():
    speed = 10 << 20
    n = copies_in(RateLimitFractional(speed), 60.0)
    assert n * CLUSTER / 60.0 == pytest.approx(speed, rel=0.02)


def test_2013_limiter_overshoots_small_quotas():
    # quota 12 sectors < one 128-sector cluster.  In each 100 ms slice the first call
    # passes (dispatched == 0); the next is over quota, charged to the next slice and
    # waits for it; but a slice that has ended resets dispatched to 0 when the next
    # call comes, so that carried charge is forgiven and it passes too: two clusters
    # per slice, 1.25 MiB/s for a speed of 64 KiB/s (the overshoot QEMU fixed in 2016-2018)
    lim = RateLimit2013(64 * 1024)
    assert lim.quota == (64 * 1024 // 512) * SLICE_NS // 1_000_000_000
    assert copies_in(lim, 10.0) == pytest.approx(2 * 10 * 10, abs=2)


def test_2013_limiter_with_a_quota_of_many_clusters():
    # 20 MiB/s: quota 4096 sectors = 32 clusters per 100 ms slice; the 33rd waits for the next slice
    lim = RateLimit2013(20 << 20)
    assert lim.quota == 32 * CLUSTER // 512
    delays = [lim.delay(0, 0)] + [lim.delay(0, CLUSTER) for _ in range(33)]
    assert delays[:33] == [0] * 33 and delays[33] == SLICE_NS


def test_speed_zero_is_unlimited():
    assert RateLimitFractional(0).delay(5, 1 << 30) == 0
    assert RateLimit2013(0).delay(5, 1 << 30) == 0
