"""An independent generator of labelled far-end call audio for measuring the three-way-call detector.

Why a second generator: the detector was tuned on its own corpus, whose channel model grew with it. This one is
built from the field description only, with other voices (espeak-ng variants the detector never heard), other
sentences, music on hold and noises synthesised here, and its own codec models, so a detector that over-fitted its
corpus shows it here.
"""

from __future__ import annotations

from sim.independent_calls.calls import build_call, generate
from sim.independent_calls.model import LabelledCall
from sim.independent_calls.variants import VARIANTS, Variant, plan

__all__ = ["VARIANTS", "LabelledCall", "Variant", "build_call", "generate", "plan"]
