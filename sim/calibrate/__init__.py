"""Checking backupsim against a real QEMU (``backupsim calibrate``).

:mod:`.cases` defines the setup and the cases, :mod:`.real` runs them with
``qemu-storage-daemon``, a throttle group, NBD and fio (``qemu.qmp`` as the
QMP client), :mod:`.simulated` builds the same cases as backupsim
configurations, and :mod:`.compare` runs both and writes the side-by-side
table and figure.  The model never imports this package.
"""

from .cases import CASES, SETUP, Case, Setup

__all__ = ["CASES", "SETUP", "Case", "Setup"]
