"""dse: design-space exploration of anode-free Li, Na and K metal cells."""

__version__ = "0.1.0"
