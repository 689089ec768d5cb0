"""Every path through a kiosk session, as the inmate sees it on the screen and as the central books show it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from firmware.kiosk.policy import PurchaseRules
from sim.kiosk_world import SimInmate
from tests.kiosk.helpers import ALICE, kiosk_config, login, make_world, screens_fit

MENU = ["1 Balances", "2 Buy minutes", "3 Espanol", "* Log out"]


def test_idle_screen_shows_both_languages_at_start(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    assert world.screen == ["PHONE MINUTES KIOSK", "MINUTOS DE TELEFONO", "Type PIN, then #", "Marque su PIN y #"]


def test_buying_a_preset_moves_money_once_prints_a_receipt_and_audits(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    login(world)
    assert world.screen == MENU
    world.keys("22")
    assert world.screen == ["Buy $10.00?", "Fee: $0.00", "New balance $13.00", "# Yes  * No"]
    world.keys("#")
    world.run_for(1)
    assert world.screen == ["Purchase done", "Bought $10.00", "Phone: $13.00", "# Menu  * Log out"]
    assert world.central.balances("A1001") == (3550, 1300)
    [receipt] = world.printer.receipts
    assert "Minutes bought: $10.00" in receipt and "Trust balance: $35.50" in receipt
    [entry] = world.client.ledger.entries()
    assert (entry.status, entry.amount_cents) == ("applied", 1000)
    [audit] = [a for a in world.central.audit() if a.action == "purchase"]
    assert (audit.actor, audit.device_id, audit.inmate_id, audit.amount_cents, audit.result) == (
        "inmate:A1001",
        "kiosk-7",
        "A1001",
        1000,
        "applied",
    )
    world.keys("1")  # back to the menu, the balances show the purchase
    world.keys("#1")
    assert world.screen[:3] == ["Trust: $35.50", "Phone: $13.00", "Left today: $40.00"]
    world.keys("1")
    assert world.screen == ["2026-01-15 $10.00", "", "", "# Back"]
    assert screens_fit(world)


def test_custom_amount_within_limits(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    login(world)
    world.keys("20")
    assert world.screen == ["Amount in dollars", "$_", "Min $5 Max $100", "# OK  * Erase"]
    world.keys("17*5#")
    assert world.screen[0] == "Buy $15.00?"


def test_amount_edges_minimum_and_maximum(tmp_path: Path) -> None:
    rich = SimInmate(id="A1001", pin="4321", trust_cents=100_000)
    world = make_world(tmp_path, inmates=(rich,), rules=PurchaseRules(daily_limit_cents=100_000))
    login(world)
    world.keys("204#")
    assert world.screen == ["Amount in dollars", "$4_", "Min $5 Max $100", "Minimum is $5.00"]
    world.keys("*5#")
    assert world.screen[0] == "Buy $5.00?"
    world.keys("*0")
    world.keys("101#")
    assert world.screen[3] == "Maximum is $100.00"
    world.keys("*0#")
    assert world.screen[0] == "Buy $100.00?"


def test_insufficient_trust_funds_is_refused_before_confirming(tmp_path: Path) -> None:
    poor = SimInmate(id="A1001", pin="4321", trust_cents=999)
    world = make_world(tmp_path, inmates=(poor,))
    login(world)
    world.keys("22")
    assert world.screen == ["1 $5.00   2 $10.00", "3 $20.00  4 $25.00", "Not enough funds", "Trust: $9.99"]
    assert not world.of("purchase_submit")
    world.keys("1")  # $5 is within the funds
    assert world.screen[0] == "Buy $5.00?"


def test_central_declines_when_funds_went_elsewhere_meanwhile(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    login(world)
    world.keys("24")  # $25 of $45.50
    world.central.set_account("A1001", 1000, 300)  # the canteen took most of it after login
    world.keys("#")
    world.run_for(1)
    assert world.screen == ["Not bought", "Not enough funds", "No money was taken", "# Menu  * Log out"]
    assert world.central.balances("A1001") == (1000, 300)
    assert world.client.ledger.entries()[0].status == "declined"


def test_daily_limit_just_inside_and_just_outside(tmp_path: Path) -> None:
    world = make_world(tmp_path, rules=PurchaseRules(daily_limit_cents=1500))
    login(world)
    world.keys("22#")
    world.run_for(1)
    world.keys("#22")  # another $10 would make $20 of $15
    assert world.screen[2:] == ["Over daily limit", "$5.00 left today"]
    world.keys("1")  # exactly the $5 left
    assert world.screen[0] == "Buy $5.00?"
    world.keys("#")
    world.run_for(1)
    assert world.screen[0] == "Purchase done"
    assert world.central.balances("A1001") == (4550 - 1500, 300 + 1500)


def test_restricted_inmate_gets_no_menu(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    login(world, "5555")
    assert world.screen == ["Phone use is", "restricted until", "2026-02-01", "No purchases."]
    world.keys("2")
    assert world.screen[0] == "Logged out."
    assert not world.of("fetch_account") and not world.of("purchase_submit")


def test_wrong_pin_then_lockout_then_unlock_at_the_edge(tmp_path: Path) -> None:
    world = make_world(tmp_path)  # the demo facility: 3 tries, then 900 s locked
    world.keys("1111#")
    world.run_for(0.1)
    assert world.screen == ["Enter your PIN", "PIN:", "", "Wrong PIN, 2 left"]
    world.keys("2222#")
    assert world.screen[3] == "Wrong PIN, 1 left"
    world.keys("3333#")
    ends = world.of("key_down")[-1]["t_ms"] / 1000 + 900
    assert world.screen == ["Too many tries.", "PIN locked until", "09:15", ""]
    world.run_for(5)
    world.keys("4321#")  # the right PIN does not open a locked kiosk
    assert world.screen[0] == "Too many tries."
    assert not world.of("fetch_account")
    world.run_for(ends - 0.001 - 0.98 - world.clock.now())
    world.keys("4321#")  # '#' goes down 0.98 s after the first digit: 1 ms before the lockout ends
    assert world.screen[0] == "Too many tries."
    world.run_for(5)
    world.keys("4321#")
    world.run_for(1)
    assert world.screen == MENU
    assert [r["outcome"] for r in world.of("login")] == ["wrong_pin", "wrong_pin", "locked", "locked", "locked", "ok"]


def test_inactivity_logs_out_just_after_the_limit_not_before(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    login(world)
    world.keys("1")
    deadline = world.of("key_down")[-1]["t_ms"] / 1000 + 30
    world.run_for(deadline - world.clock.now() - 0.001)
    assert world.screen[0] == "Trust: $45.50"
    world.run_for(0.002)
    assert world.screen == ["Logged out.", "Goodbye.", "No activity.", ""]
    world.run_for(4)
    assert world.screen[0] == "PHONE MINUTES KIOSK"
    assert world.of("session")[-1]["detail"] == "inactivity"


def test_central_unreachable_at_login_offers_nothing_it_cannot_do(tmp_path: Path) -> None:
    world = make_world(tmp_path, outages=[(0.0, 20.0)])
    login(world)
    assert world.screen == ["Central unreachable.", "Buying is not", "possible now.", "# Retry  * Log out"]
    world.keys("2")
    assert world.screen[3] == "# Retry  * Log out" and not world.of("purchase_submit")
    world.run_for(20)
    world.keys("#")
    world.run_for(1)
    assert world.screen == MENU


def test_central_unreachable_at_submit_says_nothing_was_bought(tmp_path: Path) -> None:
    world = make_world(tmp_path, faults=["ok", "unreachable"])
    login(world)
    world.keys("21#")
    world.run_for(1)
    assert world.screen == ["Not bought", "Central unreachable", "No money was taken", "# Menu  * Log out"]
    world.keys("#")
    assert world.screen[0] == "Central unreachable."
    assert world.client.ledger.entries()[0].status == "not_sent"
    assert world.central.balances("A1001") == (4550, 300)


def shown(world: object) -> list[str]:
    return [r["lines"][0] for r in world.of("screen")]  # type: ignore[attr-defined]


def test_link_dropped_after_sending_is_asked_not_resent_and_applies_once(tmp_path: Path) -> None:
    world = make_world(tmp_path, faults=["ok", "lose_reply"])
    login(world)
    world.keys("22#")
    world.run_for(1)
    assert shown(world)[-3:] == ["Sending purchase", "Result pending", "Purchase done"]
    assert world.screen == ["Purchase done", "Bought $10.00", "Phone: $13.00", "# Menu  * Log out"]
    assert world.service.calls == ["account", "submit", "status"]
    key = world.of("purchase_submit")[0]["key"]
    assert world.central.applied_count(key) == 1
    assert world.central.balances("A1001") == (3550, 1300)
    assert world.client.ledger.entry(key).status == "applied"  # type: ignore[union-attr]


def test_link_dropped_before_arrival_is_asked_then_sent_again_under_the_same_key(tmp_path: Path) -> None:
    world = make_world(tmp_path, faults=["ok", "lose_request"])
    login(world)
    world.keys("22#")
    world.run_for(2)
    assert shown(world)[-3:] == ["Sending purchase", "Result pending", "Purchase done"]
    assert world.service.calls == ["account", "submit", "status", "submit"]
    [key] = {r["key"] for r in world.of("purchase_submit")}
    assert world.central.applied_count(key) == 1
    assert world.central.balances("A1001") == (3550, 1300)


def test_slow_answer_times_out_into_a_query_and_the_late_copy_applies_nothing_more(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    login(world)
    world.keys("22")
    world.dispatch.delays.extend([8.0])  # the submit arrives after the 5 s reply timeout
    world.keys("#")
    world.run_for(4.5)
    assert world.screen[0] == "Sending purchase"
    world.run_for(5.0)
    assert shown(world)[-3:] == ["Sending purchase", "Result pending", "Purchase done"]
    key = world.of("purchase_submit")[0]["key"]
    assert world.central.applied_count(key) == 1
    actions = [a.action for a in world.central.audit() if a.key == key]
    assert actions[0] == "status" and actions.count("purchase") == 1  # asked first; applied once, however late
    assert world.central.balances("A1001") == (3550, 1300)
    assert len(world.printer.receipts) == 1


def test_pending_stays_honest_until_central_answers_then_settles_in_the_background(tmp_path: Path) -> None:
    world = make_world(tmp_path, faults=["ok", "lose_reply"])
    login(world)
    world.keys("22")
    world.keys("#")
    world.service.down = True
    world.run_for(39)
    assert world.screen == ["Result pending", "Asking central", "Please wait", ""]
    world.run_for(1)  # give_up_s = 40
    assert world.screen == ["Still pending.", "It settles when", "central answers.", "* Log out"]
    assert world.of("purchase")[-1]["status"] == "pending"
    world.keys("*")
    world.service.down = False
    world.run_for(100)
    key = world.of("purchase_submit")[0]["key"]
    assert world.client.ledger.entry(key).status == "applied"  # type: ignore[union-attr]
    assert world.central.applied_count(key) == 1


def test_keys_mashed_during_confirmation_change_nothing(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    login(world)
    world.keys("22")
    before = world.screen
    world.keys("1234567890ABCD")
    assert world.screen == before[:3] + ["Only # Yes or * No"]
    assert not world.of("purchase_submit")
    world.keys("####", gap_ms=20)
    world.run_for(1)
    assert len(world.of("purchase_submit")) == 1
    assert world.central.balances("A1001") == (3550, 1300)


def test_letters_and_too_many_digits_in_an_amount_are_refused_plainly(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    login(world)
    world.keys("20")
    world.keys("1A")
    assert world.screen == ["Amount in dollars", "$1_", "Min $5 Max $100", "Digits only"]
    world.keys("00")
    world.keys("5")
    assert world.screen == ["Amount in dollars", "$100_", "Min $5 Max $100", "Too many digits"]
    world.keys("**#")
    assert world.screen == ["Amount in dollars", "$1_", "Min $5 Max $100", "Minimum is $5.00"]
    assert not world.of("purchase_submit")
    world.keys("*")
    world.keys("#")
    assert world.screen[3] == "Type an amount"
    world.keys("*")
    assert world.screen[2] == "0 Other amount"


def test_pin_entry_refuses_letters_and_short_pins(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.keys("43B")
    assert world.screen == ["Enter your PIN", "PIN: **", "", "Digits only"]
    world.keys("#")
    assert world.screen[3] == "PIN is too short"
    world.keys("21#")
    world.run_for(1)
    assert world.screen == MENU


def test_spanish_for_a_spanish_speaker_and_switching_language(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    login(world, "9876")
    assert world.screen == ["1 Saldos", "2 Comprar minutos", "3 English", "* Salir"]
    world.keys("21#")
    world.run_for(1)
    assert world.screen == ["Compra hecha", "Compro $5.00", "Telefono: $5.00", "# Menu  * Salir"]
    assert world.printer.receipts[0][0] == "RECIBO DE MINUTOS"
    world.keys("#31")
    assert world.screen == MENU
    assert screens_fit(world)


def test_handset_style_kiosk_lift_to_start_hang_up_to_leave(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.devices.hook.lift()  # type: ignore[attr-defined]
    world.run_for(0.1)
    assert world.screen[0] == "Enter your PIN"
    login(world)
    world.keys("22#")
    world.devices.hook.hang_up()  # type: ignore[attr-defined]
    world.run_for(2)
    assert world.screen == ["Logged out.", "Goodbye.", "Handset hung up.", ""]
    key = world.of("purchase_submit")[0]["key"]
    assert world.client.ledger.entry(key).status == "applied"  # type: ignore[union-attr]
    assert world.central.applied_count(key) == 1


def test_plain_keypad_kiosk_starts_with_a_digit(tmp_path: Path) -> None:
    world = make_world(tmp_path, config=kiosk_config(tmp_path, keypad={"layout": "4x3", "cols": [12, 16, 20]}))
    login(world)
    assert world.screen == MENU


def test_a_fee_from_data_is_shown_and_charged(tmp_path: Path) -> None:
    world = make_world(tmp_path, inmates=(ALICE,), rules=PurchaseRules(fee_flat_cents=25))
    login(world)
    world.keys("22")
    assert world.screen[:3] == ["Buy $10.00?", "Fee: $0.25", "New balance $13.00"]
    world.keys("#")
    world.run_for(1)
    assert world.central.balances("A1001") == (4550 - 1025, 1300)


def test_a_chosen_language_is_remembered_for_the_next_session(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    login(world)
    world.keys("32")
    assert world.screen[0] == "1 Saldos"
    world.keys("*")
    world.run_for(5)
    login(world)
    assert world.screen == ["1 Saldos", "2 Comprar minutos", "3 English", "* Salir"]


def test_an_unreadable_roster_says_pins_cannot_be_checked(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with world.store.transaction() as db:
        db.execute("UPDATE central_cache SET value = '{\"secret\": \"zz\"}' WHERE dataset = 'pin_keys'")
    login(world)
    assert world.screen == ["Logged out.", "Goodbye.", "Cannot check PINs.", ""]
    assert not world.of("fetch_account")


def test_a_failing_screen_or_printer_never_undoes_a_purchase(tmp_path: Path) -> None:
    from hal.lcd import DisplayError
    from hal.printer import PrinterError

    world = make_world(tmp_path)
    login(world)
    world.keys("22")

    def broken(lines: Sequence[str]) -> None:
        raise DisplayError("LCD on I2C bus 1 at address 0x27: [Errno 121] Remote I/O error")

    def jammed(lines: Sequence[str]) -> None:
        raise PrinterError("receipt printer /dev/ttyUSB0: out of paper")

    world.devices.display.show = broken  # type: ignore[method-assign]
    world.printer.print_receipt = jammed  # type: ignore[method-assign]
    world.keys("#")
    world.run_for(1)
    assert world.of("display_error") and world.of("printer_error")
    assert world.of("purchase")[-1]["status"] == "applied"
    assert world.central.balances("A1001") == (3550, 1300)
