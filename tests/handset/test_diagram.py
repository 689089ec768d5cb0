from firmware.handset import diagram


def test_committed_state_diagram_matches_the_code():
    assert diagram.committed() == diagram.section(), "run: python -m firmware.handset.diagram"


def test_diagram_shows_every_state():
    text = diagram.section()
    assert all(f'state "{state}"' in text for state in diagram.STATES)
