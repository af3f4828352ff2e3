"""Device profiles: the public figures behind ``hdd``, ``sata-ssd`` and ``nvme``.

Each profile is a plain dict of :class:`sim.config.DeviceConfig` fields; a
scenario picks one with ``disk.profile`` / ``target.profile`` and may override
any field.  The service-time model (:mod:`sim.devices.device`) is blk-iocost's
linear model: a per-operation base cost (sequential or random) spent in one of
``queue_depth`` parallel slots, plus ``bytes / bandwidth`` on the device's
shared transfer path.  The base costs below are derived the way blk-iocost
derives its coefficients (``base = 1 s / IOPS - 4 KiB / bandwidth``); the
figures come from Linux ``block/blk-iocost.c`` ``autop[]`` unless a comment
says otherwise.

To add a profile, add an entry to :data:`PROFILES` with every field of
``DeviceConfig`` except ``profile`` and cite where each figure comes from.
"""

from __future__ import annotations

__all__ = ["PROFILES", "derive_base_ns"]

_PAGE = 4096


def derive_base_ns(iops: float, bandwidth: float, parallel: int = 1) -> int:
    """Base cost of one request in one slot, blk-iocost style.

    ``parallel`` slots each taking ``base + 4KiB/bandwidth`` serve ``iops``
    requests per second in total, so ``base = parallel / iops - 4KiB / bandwidth``.
    """
    return max(0, round(parallel * 1e9 / iops - _PAGE * 1e9 / bandwidth))


PROFILES: dict[str, dict] = {
    # 7200 rpm hard disk, one request at a time.  blk-iocost autop[AUTOP_HDD]:
    # rbps 174019176, rseqiops 41708, rrandiops 370; wbps 178075866,
    # wseqiops 42705, wrandiops 378.  370 random IOPS is ~2.7 ms per random I/O
    # (scheduling-and-des.md section 4).
    "hdd": {
        "queue_depth": 1,
        "read_bw": 174_019_176,
        "write_bw": 178_075_866,
        "read_seq_base": derive_base_ns(41_708, 174_019_176),
        "read_rand_base": derive_base_ns(370, 174_019_176),
        "write_seq_base": derive_base_ns(42_705, 178_075_866),
        "write_rand_base": derive_base_ns(378, 178_075_866),
    },
    # SATA SSD.  blk-iocost autop[AUTOP_SSD_DFL]: rbps 488636629,
    # rseqiops 8932, rrandiops 8518; wbps 427891549, wseqiops 28755,
    # wrandiops 21940 (these are the per-request costs iocost charges, used
    # here as the cost of a request alone on the device).  queue_depth 4 is an
    # assumption (internal parallelism of a SATA SSD at NCQ depth), not a
    # published figure: it gives ~34k random 4 KiB read IOPS at saturation,
    # between iocost's 8.5k and a datasheet's ~98k.
    "sata-ssd": {
        "queue_depth": 4,
        "read_bw": 488_636_629,
        "write_bw": 427_891_549,
        "read_seq_base": derive_base_ns(8_932, 488_636_629),
        "read_rand_base": derive_base_ns(8_518, 488_636_629),
        "write_seq_base": derive_base_ns(28_755, 427_891_549),
        "write_rand_base": derive_base_ns(21_940, 427_891_549),
    },
    # NVMe SSD.  blk-iocost autop[AUTOP_SSD_FAST]: rbps 3102524156,
    # rrandiops 778122, wbps 1374711834, wrandiops 444967 (throughput at
    # saturation).  A 4 KiB read alone takes ~50 us (blk-throttle io.low patch
    # example, scheduling-and-des.md section 4), so by Little's law the device
    # keeps 778122 * 50 us ~= 39 requests in service: queue_depth 39, and the
    # base costs are those 39 slots' share of the saturation IOPS.
    "nvme": {
        "queue_depth": 39,
        "read_bw": 3_102_524_156,
        "write_bw": 1_374_711_834,
        "read_seq_base": derive_base_ns(778_122, 3_102_524_156, 39),
        "read_rand_base": derive_base_ns(778_122, 3_102_524_156, 39),
        "write_seq_base": derive_base_ns(444_967, 1_374_711_834, 39),
        "write_rand_base": derive_base_ns(444_967, 1_374_711_834, 39),
    },
}
