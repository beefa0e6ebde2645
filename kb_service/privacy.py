"""Masking callers' personal data before anything is stored or logged."""

from __future__ import annotations

import re

# Digits may arrive full-width or with spaces/dashes from speech-to-text; normalise first.
_ID_CARD = re.compile(
    r"(?<![0-9A-Za-z])([1-9]\d{5})(?:19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx](?![0-9A-Za-z])"
)
_BANK = re.compile(r"(?<!\d)(?:[3-6]\d{3}[ -]?)(?:\d{4}[ -]?){2,3}\d{1,4}(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[ -]?(\d{3,4})[ -]?(\d{4})(?!\d)")


_FULLWIDTH_DIGITS = {0xFF10 + i: ord("0") + i for i in range(10)} | {0xFF38: ord("X")}


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def mask(text: str) -> str:
    """Mask ID-card, bank-card, mobile and landline numbers (keeps enough to tell them apart)."""
    text = text.translate(_FULLWIDTH_DIGITS)
    text = _ID_CARD.sub(lambda m: m.group(1) + "********" + m.group(0)[-4:], text)
    text = _BANK.sub(
        lambda m: (
            "**** **** **** " + _digits(m.group(0))[-4:]
            if 16 <= len(_digits(m.group(0))) <= 19
            else m.group(0)
        ),
        text,
    )
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(3)}", text)
    return text
