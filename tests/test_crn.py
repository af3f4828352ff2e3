"""Common random numbers: a guest request gets the same service noise with and without a backup.

The backup reorders the device's work (copy-before-write delays writes, its
own reads take device slots), so noise handed out in device-start order would
give many guest requests a different draw in the two runs and blur the paired
comparison.  Draws are keyed to the request (:class:`sim.rng.RequestDraws`).
"""

from conftest import fixed_device, unit_loop

from sim.config import build_config
from sim.model import Model
from sim.request import GUEST


def _service_by_request(cfg, with_backup: bool, until: int | None = None) -> tuple[dict[int, int], int]:
    model = Model(cfg, with_backup=with_backup)
    seen: dict[int, int] = {}
    service = model.disk.service

    def logged(req, sequential):
        ns = service(req, sequential)
        if req.origin == GUEST:
            assert req.index not in seen, "a guest request started twice on the disk"
            seen[req.index] = ns
        return ns

    model.disk.service = logged
    model.run(until)
    return seen, model.t_end


def _config(dist: str, seed: int, **disk):
    # sequential and random base costs equal, so a request's service time depends
    # only on its own draw, not on what the device served before it
    return build_config(
        {
            "backup": {"disk_size": "16MiB", "cluster_size": "64KiB", "start": "2ms"},
            "disk": fixed_device("80us", qd=4, dist=dist, **disk),
            "target": fixed_device("200us"),
            "loop": unit_loop(),
            "policy": {"name": "none"},
            "workload": {
                "kind": "poisson",
                "iops": 4000,
                "rw": "randrw",
                "rwmixread": 50,
                "bs": "4KiB",
                "duration": "backup",
            },
            "run": {"seed": seed},
        }
    )


def _check_paired(cfg) -> int:
    with_backup, t_end = _service_by_request(cfg, True)
    baseline, _ = _service_by_request(cfg, False, until=t_end)
    common = with_backup.keys() & baseline.keys()
    assert len(common) > 50
    differ = [i for i in sorted(common) if with_backup[i] != baseline[i]]
    assert not differ, f"{len(differ)} of {len(common)} guest requests got other noise, first {differ[:5]}"
    return len(common)


def test_exponential_noise_is_paired_request_by_request():
    for seed in (1, 2, 3):
        _check_paired(_config("exponential", seed))


def test_gamma_noise_and_stalls_are_paired_request_by_request():
    for seed in (4, 5):
        _check_paired(_config("gamma", seed, cv=0.5, stall_prob=0.05, stall_time="2ms"))


def test_the_backup_does_reorder_the_guest_on_the_device():
    # the premise: with the backup, guest requests reach the disk in another order
    # relative to each other's neighbours (the backup's reads sit between them)
    cfg = _config("exponential", 1)
    model = Model(cfg, with_backup=True)
    order = []
    service = model.disk.service
    model.disk.service = lambda req, seq: (order.append(req.origin), service(req, seq))[1]
    model.run()
    assert order.count(GUEST) > 50 and order.count(1 - GUEST) > 50
