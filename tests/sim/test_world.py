"""Bad worlds are refused before the run, with one line naming what and where."""

from __future__ import annotations

import pytest

from sim import runner
from sim.scenario import ScenarioError, parse
from tests.handset.helpers import HOME, dial_steps, scenario


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"parties": [{"number": HOME, "actions": [{"after_answer_s": 1, "do": "speak", "file": "no-such-sound"}]}]},
            r"party 5735550101 action 0 \(speak\): .*no-such-sound.wav: no such file",
        ),
        (
            {"parties": [{"number": HOME, "actions": [{"after_answer_s": 1, "do": "three_way", "pattern": "nope"}]}]},
            r"unknown pattern 'nope'",
        ),
        ({"world": {"accounts": {"debit:A1001": {"balance": 5}}}}, r"accounts\['debit:A1001'\].*balance"),
        ({"world": {"inmates": {"A9": {"name": "x"}}}}, r"world.inmates.A9: needs a pin"),
        ({"rules": {"announcement": {"interval_s": 5}}}, r"announcement.interval_s = 5"),
        ({"timing": {"ring_timeout_s": -1}}, r"ring_timeout_s = -1"),
    ],
)
def test_bad_world_names_what_and_where(tmp_path, extra, message):
    data = scenario(dial_steps(), until_s=5)
    data.update({k: v for k, v in extra.items() if k != "world"})
    for dataset, values in extra.get("world", {}).items():
        data["world"].setdefault(dataset, {}).update(values)
    with pytest.raises(ScenarioError, match=message):
        runner.run(parse(data, "test"), tmp_path)


def test_a_step_with_a_missing_sound_is_refused(tmp_path):
    data = scenario([{"at_s": 1.0, "action": "say", "file": "no-such-sound"}], until_s=5, audio=True)
    with pytest.raises(ScenarioError, match=r"step at 1.0s: .*no-such-sound.wav: no such file"):
        runner.run(parse(data, "test"), tmp_path)


def test_speaking_needs_audio(tmp_path):
    data = scenario([{"at_s": 1.0, "action": "say", "file": "hello-world"}], until_s=5)
    with pytest.raises(ScenarioError, match="audio = true"):
        runner.run(parse(data, "test"), tmp_path)
