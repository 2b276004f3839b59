"""`mimi loadtest`: drive rooms on Ray at a message rate and report what every
member decrypted (lost, duplicated), throughput and send→decrypt latency.

`config` (options and bounds), `pacing` (what is sent when), `report`
(statistics) and `faults` (what to break when, and the audit of what every
device shows) need no Ray; `fleet.FleetHost` sends and records inside the
actors, `inject` breaks things on Ray, `run` orchestrates them, `plots` draws
the PNGs.
"""

from mimi.loadtest.config import Config

__all__ = ["Config"]
