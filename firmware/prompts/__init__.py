"""Spoken prompts: a catalog of ids with English and Spanish text, and the 8 kHz audio rendered from it."""
