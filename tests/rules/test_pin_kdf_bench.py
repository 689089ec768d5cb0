"""The PIN verifier benchmark runs in its quick mode and prints its comparison."""

from __future__ import annotations

from bench import pin_kdf


def test_quick_mode_prints_the_three_verifiers(capsys, tmp_path) -> None:
    pin_kdf.main(["--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "ours: scrypt N=2^17" in out and "HMAC-SHA256" in out and "PBKDF2" in out
