"""Redaction of sensitive data in case subjects and communication bodies.

The model's CreateCase and AddCommunicationToCase documentation: AWS Support replaces AWS secret
keys and private keys completely, and credit card numbers except their last four digits, with
``[REDACTED_BY_Amazon Web Services]`` (cards: ``[REDACTED_BY_Amazon Web Services]-7016``), and
does not store them. The documentation names the kinds of data but not how they are recognised,
so Casework recognises them by the rules AWS publishes for its own detectors of the same data
(the CloudWatch Logs data protection and Amazon Macie managed data identifiers ``AwsSecretKey``,
``OpenSshPrivateKey``, ``PgpPrivateKey``, ``PkcsPrivateKey``, ``PuttyPrivateKey`` and
``CreditCardNumber``):

* **AWS secret access keys**: a run of exactly 40 characters of ``A-Z a-z 0-9 / +`` (with at
  least one upper- and one lower-case letter, as every real key has), standing alone, with one
  of AWS's keywords (``aws_secret_access_key``, ``credentials``, ``secret access key``,
  ``secret key``, ``set-awscredential``; any case, the spaces written as nothing, ``_`` or
  ``-``) within 30 characters before or after it, as Macie requires. The same 40 characters
  without a keyword nearby are left alone: they are as likely an id or a hash.
* **Private keys**: PEM blocks (``-----BEGIN [RSA |DSA |EC |OPENSSH |ENCRYPTED ]PRIVATE
  KEY-----`` and ``-----BEGIN PGP PRIVATE KEY BLOCK-----``) from the header to the matching
  footer, or, when the footer is missing, to the end of the key material lines; and PuTTY key
  files (``PuTTY-User-Key-File-N:`` through ``Private-MAC:``). No keyword is needed. Public keys
  and certificates are not secret and are left alone.
* **Card numbers**: 13 to 19 digits that pass the Luhn check and start with a standard issuer
  prefix (American Express, Dankort, Diners Club, Discover, JCB, Mastercard, UnionPay, Visa and
  Visa Electron) with a length that issuer uses. Written in the groups cards are printed in
  (``4111 1111 1111 1111``, ``4111-1111-1111-1111``, Amex ``3782 822463 10005``; one kind of
  separator), the number is redacted wherever it appears; written as a bare run of digits, AWS's
  card keywords (``card``, ``credit``, ``visa``, ``amex``, ...) must appear within 30 characters,
  as the CloudWatch Logs identifier requires, so that ids and order numbers stay as written.
"""

from __future__ import annotations

import re

MARKER = "[REDACTED_BY_Amazon Web Services]"
PROXIMITY = 30  # characters between a keyword and the data (Macie: 30, inclusive)

_PEM = re.compile(
    r"-----BEGIN (?P<kind>(?:RSA |DSA |EC |OPENSSH |ENCRYPTED )?PRIVATE KEY|PGP PRIVATE KEY BLOCK)"
    r"-----(?:.*?-----END (?P=kind)-----|(?P<open>))",
    re.DOTALL)
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]+")
_ARMOUR_HEADER = re.compile(r"[A-Za-z-]+: \S.*")
_PGP_CHECKSUM = re.compile(r"=[A-Za-z0-9+/]{4}")
_INLINE_MATERIAL = re.compile(r"(?:[ \t]+[A-Za-z0-9+/=]{20,})*")
_PUTTY = re.compile(
    r"PuTTY-User-Key-File-\d+:.*?Private-Lines:[ \t]*\d+[ \t]*\r?\n"
    r"(?:[ \t]*[A-Za-z0-9+/=]+[ \t]*(?:\r?\n|$))*"
    r"(?:[ \t]*Private-(?:MAC|Hash):[ \t]*[0-9A-Fa-f]+)?",
    re.DOTALL)

_SECRET_CANDIDATE = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_SECRET_KEYWORDS = re.compile(
    r"secret[ _-]?access[ _-]?key|secret[ _-]?key|credentials|set-awscredential", re.IGNORECASE)

# Digits in card-style groups (one separator kind) or a bare run, not glued to other ids.
_CARD_CANDIDATE = re.compile(r"(?<![\w.-])\d{4}(?:[ -]?\d{1,6}){1,5}(?![\w-]|\.\d)")
_CARD_KEYWORDS = re.compile(
    r"\b(?:account number|american express|amex|bank card|card number|card num|card|cc ?#|ccn|"
    r"check card|credit card#?|credit|dankort|debit card|debit|diners club|discover|electron|"
    r"japanese card bureau|jcb|mastercard|mc|pan|payment account number|payment card number|"
    r"pcn|union ?pay|visa)s?(?!\w)",
    re.IGNORECASE)
_GROUPINGS = ([4, 6, 5], [4, 6, 4])  # American Express and Diners Club print 4-6-5 and 4-6-4


def _issuer_lengths(digits: str) -> tuple[int, ...]:
    """The lengths the issuer owning the number's prefix uses; () for no known issuer."""
    two, three, four, six = (int(digits[:n]) for n in (2, 3, 4, 6))
    if digits[0] == "4":  # Visa, Visa Electron
        return (13, 16, 19)
    if 51 <= two <= 55 or 2221 <= four <= 2720:  # Mastercard
        return (16,)
    if two in (34, 37):  # American Express
        return (15,)
    if four == 5019:  # Dankort
        return (16,)
    if 300 <= three <= 305 or two in (36, 38, 39) or four == 3095:  # Diners Club
        return (14, 15, 16, 17, 18, 19)
    if four == 6011 or 644 <= three <= 649 or two == 65 or 622126 <= six <= 622925:  # Discover
        return (16, 17, 18, 19)
    if 3528 <= four <= 3589:  # JCB
        return (16, 17, 18, 19)
    if two == 62 or two == 81:  # UnionPay
        return (16, 17, 18, 19)
    return ()


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _grouped(text: str) -> bool | None:
    """True for card-style groups, False for a bare run, None for anything else."""
    separators = set(re.findall(r"[ -]", text))
    if not separators:
        return False
    if len(separators) > 1:
        return None
    groups = [len(group) for group in re.split(r"[ -]", text)]
    if all(length == 4 for length in groups[:-1]) and 1 <= groups[-1] <= 4:
        return True
    return True if groups in _GROUPINGS else None


def _near(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(0 <= start - kw_end <= PROXIMITY or 0 <= kw_start - end <= PROXIMITY
               for kw_start, kw_end in spans)


def _key_material_end(text: str, start: int) -> int:
    """Where the key material after a header without footer ends: armour headers
    ("Proc-Type: 4,ENCRYPTED", "Version: ...") and blank lines, then base64 lines of one width
    up to the first shorter one (the last), then a PGP checksum line; prose after it is kept."""
    end = _INLINE_MATERIAL.match(text, start).end()
    position = text.find("\n", end)
    if position < 0 or text[end:position].strip():
        return end
    position += 1
    width, more = None, True
    while position < len(text):
        newline = text.find("\n", position)
        line_end = len(text) if newline < 0 else newline + 1
        content = text[position:line_end].strip()
        if content:
            if width is None and _ARMOUR_HEADER.fullmatch(content):
                pass
            elif more and _BASE64_LINE.fullmatch(content) and (
                    (width is None and len(content) >= 20) or (width and len(content) <= width)):
                width = width or len(content)
                more = len(content) == width
            elif width and _PGP_CHECKSUM.fullmatch(content):
                more = False
            else:
                break
            end = position + len(text[position:line_end].rstrip())
        position = line_end
    return end


def _redact_private_keys(text: str) -> str:
    parts, position = [], 0
    for match in _PEM.finditer(text):
        end = match.end()
        if match.group("open") is not None:
            end = _key_material_end(text, end)  # no footer: up to the end of the material
        parts.append(text[position:match.start()])
        parts.append(MARKER)
        position = end
    parts.append(text[position:])
    return _PUTTY.sub(MARKER, "".join(parts))


def _redact_secret_keys(text: str) -> str:
    spans = [m.span() for m in _SECRET_KEYWORDS.finditer(text)]
    if not spans:
        return text

    def replace(match: re.Match) -> str:
        value = match.group()
        if not (re.search(r"[A-Z]", value) and re.search(r"[a-z]", value)):
            return value
        return MARKER if _near(spans, match.start(), match.end()) else value

    return _SECRET_CANDIDATE.sub(replace, text)


def _card_digits(value: str) -> str | None:
    """The digits of ``value`` if they form a card number of a known issuer."""
    digits = re.sub(r"[ -]", "", value)
    if 13 <= len(digits) <= 19 and len(digits) in _issuer_lengths(digits) and _luhn(digits):
        return digits
    return None


def _redact_cards(text: str) -> str:
    spans: list[tuple[int, int]] | None = None

    def keyword_near(start: int, end: int) -> bool:
        nonlocal spans
        if spans is None:
            spans = [m.span() for m in _CARD_KEYWORDS.finditer(text)]
        return _near(spans, start, end)

    def replace(match: re.Match) -> str:
        value = match.group()
        grouped = _grouped(value)
        if grouped is False:
            digits = _card_digits(value)
            if digits and keyword_near(match.start(), match.end()):
                return f"{MARKER}-{digits[-4:]}"
            return value
        # Groups: the longest leading run of them that is a card ("4111 1111 1111 1111 2026"
        # is a card followed by a year).
        pieces = re.split(r"([ -])", value)
        for count in range(len(pieces), 2, -2):
            head = "".join(pieces[:count])
            digits = _card_digits(head)
            if digits and _grouped(head):
                return f"{MARKER}-{digits[-4:]}" + "".join(pieces[count:])
        return value

    return _CARD_CANDIDATE.sub(replace, text)


def redact(text: str) -> str:
    """``text`` with secret keys, private keys and card numbers replaced by AWS's marker."""
    return _redact_cards(_redact_secret_keys(_redact_private_keys(text)))
