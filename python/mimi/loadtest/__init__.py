"""`mimi loadtest`: drive rooms on Ray at a message rate and report what every
member decrypted (lost, duplicated), throughput and send→decrypt latency.

`config` (options and bounds) and `report` (statistics) need no Ray; `run`
orchestrates the actors (`fleet.FleetHost`), `plots` draws the PNGs.
"""

from mimi.loadtest.config import Config

__all__ = ["Config"]
