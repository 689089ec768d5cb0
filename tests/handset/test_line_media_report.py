"""What the network did to a call's far-end audio (hal.line.LineMediaReport) is filed with the call for its review:
choppy audio or a hookflash the three-way detector missed can then be traced to lost or late packets."""

from __future__ import annotations

from firmware.handset import messages as m
from hal.events import OffHook
from hal.line import LineHungUp, LineMediaReport
from tests.handset.test_far_end_hold import connected_call
from tests.handset.test_flow_robustness import new_flow

COUNTS = {"frames_in": 1500, "packets_received": 1480, "packets_lost": 20, "late_dropped": 3, "foreign_packets": 0}


def reports(commands: list) -> list[m.ReportIncident]:
    return [c for c in commands if isinstance(c, m.ReportIncident) and c.incident == "line_media"]


def test_the_network_report_is_filed_under_the_call_it_describes():
    flow, _ = connected_call()
    [report] = reports(flow.handle(LineMediaReport(40.0, dict(COUNTS))))
    assert report.detail == {"call_id": flow.call_id, **COUNTS} and flow.call_id != ""


def test_a_report_that_comes_after_the_far_end_hung_up_still_names_the_call():
    flow, _ = connected_call()
    call_id = flow.call_id
    flow.handle(LineHungUp(40.0))
    [report] = reports(flow.handle(LineMediaReport(40.1, dict(COUNTS))))
    assert report.detail["call_id"] == call_id


def test_no_report_is_filed_when_no_call_was_opened():
    flow = new_flow()
    flow.handle(OffHook(1.0))
    assert reports(flow.handle(LineMediaReport(2.0, dict(COUNTS)))) == []
