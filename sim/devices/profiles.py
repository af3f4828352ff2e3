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

To add a profile, add an entry to :data:`PROFILES` with its ``model`` (when
not ``linear``) and every field of that model's configuration except
``profile``, and cite where each figure comes from.
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
    # 7200 rpm disk with a seek curve and rotational latency (sim.devices.hdd).
    # Rotation: 60 s / 7200 = 8.33 ms, 4.17 ms on average (scheduling-and-des.md
    # section 4).  Seek: square-root curve (Ruemmler & Wilkes 1994) from 1 ms
    # track-to-track to 17 ms full stroke over 2 TB; its average over random
    # seeks, 1 + 8/15 * 16 = 9.5 ms, is the order of a desktop drive's datasheet
    # "average seek 8.5 ms" (typical figures, not checked against one
    # datasheet here).  Bandwidth and sequential costs as "hdd" (blk-iocost).
    "hdd-seek": {
        "model": "seek",
        "queue_depth": 1,
        "read_bw": 174_019_176,
        "write_bw": 178_075_866,
        "read_seq_base": derive_base_ns(41_708, 174_019_176),
        "read_rand_base": derive_base_ns(41_708, 174_019_176),
        "write_seq_base": derive_base_ns(42_705, 178_075_866),
        "write_rand_base": derive_base_ns(42_705, 178_075_866),
        "seq_window": 0,
        "rpm": 7200,
        "seek_track": 1_000_000,
        "seek_full": 17_000_000,
        "span": 2 * 10**12,
    },
    # Network targets (sim.devices.network): 1 and 10 Gb/s Ethernet links to a
    # backup server whose store is a hard disk; 0.2 ms round trip on a LAN;
    # 16 requests in flight (Proxmox's max-workers default, qemu-backup.md
    # section 2).
    "network-1g": {
        "model": "network",
        "queue_depth": 16,
        "link_bw": 125_000_000,
        "rtt": 200_000,
        "remote": "hdd",
    },
    "network-10g": {
        "model": "network",
        "queue_depth": 16,
        "link_bw": 1_250_000_000,
        "rtt": 200_000,
        "remote": "hdd",
    },
}

# "sata-ssd" with garbage-collection stalls: one request in 500 waits for a
# block erase, 3.8 ms in MQSim's ssdconfig.xml (Tavakkol et al., FAST 2018),
# as a GC pass that has to erase before it can write.
PROFILES["ssd-gc"] = {**PROFILES["sata-ssd"], "stall_prob": 0.002, "stall_time": 3_800_000}

# NVMe with its flash reached through parallel channels (sim.devices.channels):
# MQSim's ssdconfig.xml has 8 channels x 4 chips; here 32 independent units
# striped every 64 KiB, with the "nvme" costs and 39 request slots.
PROFILES["nvme-channels"] = {**PROFILES["nvme"], "model": "channels", "channels": 32, "channel_stripe": 64 << 10}
