"""The market a simulated execution meets: random volume per slice and the fill model.

:func:`market_model` reads a single-asset spec's keys into a :class:`MarketModel`
(:class:`VolumeModel` + :class:`FillModel`); :meth:`MarketModel.draw` makes a block's random
numbers (independent of the strategy: common random numbers) and :meth:`MarketModel.execute`
turns an order into the executed trade. Defaults give full fills (``MarketModel.active`` False).
"""

from .fills import FillModel, MarketDraws, MarketModel, market_model
from .state import SliceState
from .volume import VolumeModel

__all__ = ["VolumeModel", "FillModel", "MarketModel", "MarketDraws", "market_model", "SliceState"]
