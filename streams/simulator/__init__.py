"""The traffic simulator's pure core: realistic omnichannel touchpoints with ground truth.

No Kafka here: ``simulate()`` yields messages (key, record, payload) in
event-time order, malformed ones labelled with the reject reason they must
get; ``GroundTruth``/``TruthWriter`` record who is who and what really
caused each conversion.
"""

from streams.simulator.config import MALFORMED_KINDS, TOUCH_CHANNELS, SimulationConfig
from streams.keys import routing_key
from streams.simulator.malformed import SimulatedMessage
from streams.simulator.simulate import simulate, truth_header
from streams.simulator.stream import people_count, stream_records
from streams.simulator.truth import GroundTruth, TruthSink, TruthWriter

__all__ = [
    "MALFORMED_KINDS", "TOUCH_CHANNELS", "GroundTruth", "SimulatedMessage", "SimulationConfig", "TruthSink",
    "TruthWriter", "people_count", "routing_key", "simulate", "stream_records", "truth_header",
]
