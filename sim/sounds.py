"""Where Debian's Asterisk sound packages put their files, found without relying on the `en`/`es` links.

`asterisk-core-sounds-en-wav` installs under `sounds/en_US_f_Allison/`; the `sounds/en` link comes only from
`asterisk-core-sounds-en`, a recommended package that `--no-install-recommends` leaves out. Looking for either
keeps a fresh machine and a full one alike.
"""

from __future__ import annotations

from pathlib import Path

SOUNDS = Path("/usr/share/asterisk/sounds")
MOH = Path("/usr/share/asterisk/moh")
PACKAGES = "asterisk-core-sounds-en-wav, asterisk-core-sounds-es-wav and asterisk-moh-opsound-wav"


def sound_dir(language: str) -> Path:
    """The directory of one language's prompts ("en", "es"): the link if present, else the voice's own folder."""
    link = SOUNDS / language
    if link.is_dir():
        return link
    voices = sorted(p for p in SOUNDS.glob(f"{language}_*") if p.is_dir())
    return voices[0] if voices else link
