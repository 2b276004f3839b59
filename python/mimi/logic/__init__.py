"""Sans-IO protocol logic: the bridge between MLS (mimi._core) and room policy."""

from mimi.logic.room import app_data_resolver, proposed_change

__all__ = ["app_data_resolver", "proposed_change"]
