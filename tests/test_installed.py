"""A missing system package skips a test on a developer's machine and fails it in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import installed


def test_in_ci_a_missing_package_fails_the_test(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(installed, "REQUIRE_ALL", True)
    with pytest.raises(pytest.fail.Exception, match="no-such.wav is missing: install some-package"):
        installed.need_path(tmp_path / "no-such.wav", "some-package")


def test_elsewhere_a_missing_package_skips_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(installed, "REQUIRE_ALL", False)
    with pytest.raises(pytest.skip.Exception, match="ringfence-no-such-program is not installed"):
        installed.need_program("ringfence-no-such-program", "some-package")


def test_a_present_file_and_program_pass_through(tmp_path: Path) -> None:
    assert installed.need_path(tmp_path, "x") == tmp_path
    assert installed.need_program("sh", "dash").endswith("sh")
