"""Building whole calls: pick the line, room and talker, lay in the attempt or the hard negative, place the
conversation, and mix everything down the far end's path in the order the physics has it.

Mix order (why): the microphone carries speech, room and room sounds (a mute or a set-down acts here); the far phone
and access network code it (vocoder, VoIP, silence suppression); the analog loop adds its own noise; a hold replaces
all of that with what the switch sends; line sounds (clicks, beeps, tones) come after; a conference bridge scales
the lot; the G.711 trunk delivers it to the facility.
"""

from __future__ import annotations

import numpy as np

from sim.independent_calls import negatives, positives
from sim.independent_calls.conversation import Speech, converse, random_talker
from sim.independent_calls.lines import loop_noise, random_line, room_noise, transmit, trunk
from sim.independent_calls.model import RATE, LabelledCall, active_level_dbm0
from sim.independent_calls.scene import Scene
from sim.independent_calls.variants import Variant, plan


def build_call(seed: int, index: int, variant: Variant) -> LabelledCall:
    """Call number `index` of a run with `seed`, of kind `variant`; the same arguments give the same samples."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, 0xCA11]))
    event = variant.event
    line = random_line(
        rng, variant.line, noisy=event == "noisy_loop", suppression="nocn" if event == "quiet_nocn" else None
    )
    pre = hold = 0.0
    if variant.positive:
        pre, hold, conf = positives.timing(rng)
        seconds = pre + hold + conf
    else:
        seconds = float(rng.uniform(30.0, 240.0) if rng.random() < 0.85 else rng.uniform(240.0, 360.0))
    n = int(seconds * RATE)
    talker = random_talker(rng)
    scene = Scene(
        rng=rng,
        variant=variant,
        line=line,
        n=n,
        talker=talker,
        speech=Speech.empty(n),
        room=room_noise(rng, n, variant.room),
        mic_extra=np.zeros(n),
        mic_gain=np.ones(n),
        loop_gain=np.ones(n),
        line_extra=np.zeros(n),
    )
    if variant.positive:
        positives.attempt(scene, pre, hold)
    else:
        negatives.apply(scene)
    end = scene.talk_until if scene.talk_until is not None else seconds - 0.3
    for a, b in scene.free_spans(0.0, end):
        converse(rng, [scene.speech], [talker], a, b, scene.pacing)
    samples = mix(scene)
    speech_level = active_level_dbm0(scene.speech.signal)
    notes = [
        f"far party {talker.describe()}",
        f"speech_level={speech_level:.1f}dBm0",
        f"line {scene.line.describe()}",
        f"room {variant.room}",
        *scene.notes,
    ]
    return LabelledCall(
        samples=samples,
        positive=variant.positive,
        flash_at=None if scene.flash_at is None else round(scene.flash_at, 4),
        hold_end=None if scene.hold_end is None else round(scene.hold_end, 4),
        variant=variant.name,
        line=variant.line,
        hold_kind=variant.hold_kind,
        clicked=variant.clicked,
        notes=tuple(notes),
    )


def mix(scene: Scene) -> np.ndarray:
    """The scene's tracks down the far end's path to the facility's int16 samples."""
    mic = (scene.speech.signal + scene.room + scene.mic_extra) * scene.mic_gain
    if scene.device is not None:
        mic = scene.device(mic)
    tx = transmit(scene.rng, mic, scene.speech.mask, scene.line, scene.mic_filtered)
    if scene.post is not None:
        tx = scene.post(tx)
    tx = tx + loop_noise(scene.rng, scene.n, scene.line) * scene.loop_gain
    for t0, t1, sound in scene.replacements:
        a, b = scene.idx(t0), scene.idx(t1)
        tx[a:b] = 0.0
        seg = sound[: b - a]
        tx[a : a + seg.size] = seg
    tx = tx + scene.line_extra
    if scene.conference is not None:
        tx = scene.conference(tx)
    return trunk(tx, scene.line)


def generate(seed: int, calls: int, positive_share: float = 0.4) -> list[LabelledCall]:
    """`calls` labelled far-end recordings for `seed`, about `positive_share` of them three-way attempts."""
    return [build_call(seed, i, v) for i, v in enumerate(plan(seed, calls, positive_share))]
