"""The declared order of a sync session: every step, blobs only on request, a bounded number of rounds."""

from __future__ import annotations

from firmware.sync.session_machine import MAX_ROUNDS, SessionSteps


def walk(steps: SessionSteps, outcomes: list[str]) -> list[str]:
    """Fire the declared triggers (`next`; at the agreement `agreed` or `retry`) until the session is finished."""
    seen = [steps.state]
    while not steps.finished:
        if steps.state == "agreement":
            fired = steps.agreed() if outcomes.pop(0) == "agreed" else steps.retry()
        else:
            fired = steps.next()
        assert fired, f"no way on from {steps.state}"
        seen.append(steps.state)
    return seen


def test_a_session_goes_through_every_step_once_when_both_sides_agree() -> None:
    assert walk(SessionSteps(send_blobs=True), ["agreed"]) == [
        "hello",
        "pull",
        "push",
        "purchases",
        "reserve",
        "blobs",
        "agreement",
        "agreed",
    ]


def test_blobs_are_skipped_when_not_wanted() -> None:
    assert "blobs" not in walk(SessionSteps(send_blobs=False), ["agreed"])


def test_a_moved_server_means_another_round_up_to_the_limit_and_no_more() -> None:
    steps = SessionSteps(send_blobs=False)
    seen = walk(steps, ["retry"] * (MAX_ROUNDS - 1) + ["agreed"])
    assert seen[-1] == "agreed" and seen.count("pull") == MAX_ROUNDS and steps.rounds == MAX_ROUNDS
    steps = SessionSteps(send_blobs=False)
    seen = walk(steps, ["retry"] * MAX_ROUNDS)
    assert seen[-1] == "disagreed" and seen.count("pull") == MAX_ROUNDS
