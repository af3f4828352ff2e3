"""Figures of backupsim results (matplotlib, Agg canvas); each function returns a Figure.

* :func:`latency_cdf` - guest latency CDF per sweep point, reads and writes
* :func:`tradeoff` - backup duration vs guest p99 slowdown, intervals and Pareto front
* :func:`timeline` - one run over time: latency, IOPS, backup progress
* :func:`cow_cost` - copy-before-write: share of writes delayed and their extra latency
* :func:`queueing_check`, :func:`rate_limit_check` - the model against theory (notebook 03)

:func:`save` writes a figure as a PNG; :mod:`sim.plots.style` holds the shared look.
"""

from .cdf import latency_cdf
from .checks import queueing_check, rate_limit_check
from .cow import cow_cost
from .pareto import tradeoff
from .style import save
from .timelines import pick_run, timeline

__all__ = ["latency_cdf", "tradeoff", "timeline", "cow_cost", "queueing_check", "rate_limit_check", "pick_run", "save"]
