"""Telephony signal processing at 8 kHz with numpy: DTMF, call-progress tones, three-way detection, generators."""
