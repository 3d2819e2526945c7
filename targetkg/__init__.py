"""TargetKG: a knowledge-graph warehouse for drug-target discovery."""

__version__ = "0.1.0"
