"""Redaction of secret keys, private keys and card numbers in AWS Support cases, end to end:
boto3 against a real server, and a look at the database to see that nothing secret was kept.
"""

from __future__ import annotations

import base64
import json
import random
import string
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

MARKER = "[REDACTED_BY_Amazon Web Services]"
RNG = random.Random(20261126)


def secret_access_key() -> str:
    """A secret access key as IAM makes them: 40 characters of base64 (letters, digits, / +)."""
    while True:
        key = "".join(RNG.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))
        if any(c.isupper() for c in key) and any(c.islower() for c in key):
            return key


def pem_block(kind: str, size: int = 1190) -> str:
    """A PEM block shaped like ``openssl`` writes one: DER bytes, base64, 64-char lines."""
    der = b"\x30\x82\x04\xa2\x02\x01\x00" + RNG.randbytes(size)
    lines = textwrap.wrap(base64.b64encode(der).decode(), 64)
    return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"])


def luhn_complete(prefix: str, length: int) -> str:
    """``prefix`` padded with random digits to ``length`` digits, the last one a Luhn check."""
    body = prefix + "".join(RNG.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        digits = body + check
        total = sum(int(d) if i % 2 == 0 else (int(d) * 2 - 9 if int(d) > 4 else int(d) * 2)
                    for i, d in enumerate(reversed(digits)))
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def grouped(digits: str, separator: str) -> str:
    return separator.join(digits[i:i + 4] for i in range(0, len(digits), 4))


def stored_text(server) -> str:
    """Every subject and body the server's database holds, joined."""
    engine = create_engine(server.database_url)
    with engine.connect() as db:
        subjects = db.execute(text("SELECT subject FROM support_cases")).scalars().all()
        bodies = db.execute(text("SELECT body FROM support_communications")).scalars().all()
    engine.dispose()
    return "\n".join([*subjects, *bodies])


def bodies(support, case_id: str) -> list[str]:
    """The case's communication bodies, oldest first."""
    found = support.describe_communications(caseId=case_id)["communications"]
    return [c["body"] for c in reversed(found)]


def test_secret_keys_private_keys_and_cards_are_redacted_before_they_are_stored(server, support):
    key = secret_access_key()
    rsa = pem_block("RSA PRIVATE KEY")
    visa = luhn_complete("4", 16)
    master = luhn_complete("53", 16)
    body = (
        "Our deploy role stopped working. From ~/.aws/credentials:\n"
        "[default]\n"
        "aws_access_key_id = AKIAZ7EXAMPLE3QWERTY\n"
        f"aws_secret_access_key = {key}\n\n"
        f"The server key we rotated:\n{rsa}\n\n"
        f"Billing went to card {grouped(visa, ' ')} and then to {grouped(master, '-')}.\n"
    )
    case_id = support.create_case(subject=f"Charged twice on card {grouped(visa, '-')}",
                                  communicationBody=body)["caseId"]
    [case] = support.describe_cases(caseIdList=[case_id])["cases"]
    assert case["subject"] == f"Charged twice on card {MARKER}-{visa[-4:]}"
    assert bodies(support, case_id) == [
        "Our deploy role stopped working. From ~/.aws/credentials:\n"
        "[default]\n"
        "aws_access_key_id = AKIAZ7EXAMPLE3QWERTY\n"  # an access key id is not secret
        f"aws_secret_access_key = {MARKER}\n\n"
        f"The server key we rotated:\n{MARKER}\n\n"
        f"Billing went to card {MARKER}-{visa[-4:]} and then to {MARKER}-{master[-4:]}.\n"
    ]
    assert case["recentCommunications"]["communications"][0]["body"] == bodies(support, case_id)[0]
    # Not stored: the database holds none of it.
    kept = stored_text(server)
    for secret in (key, rsa.splitlines()[3], visa, grouped(visa, " "), grouped(master, "-")):
        assert secret not in kept


def test_replies_are_redacted_too_in_every_private_key_format(support):
    case_id = support.create_case(subject="Keys", communicationBody="first")["caseId"]
    key = secret_access_key()
    amex = luhn_complete("37", 15)
    openssh = pem_block("OPENSSH PRIVATE KEY", 380)
    pkcs8 = pem_block("PRIVATE KEY")
    encrypted = pem_block("ENCRYPTED PRIVATE KEY")
    ec = pem_block("EC PRIVATE KEY", 100)
    pgp = pem_block("PGP PRIVATE KEY BLOCK", 900).replace(
        "BLOCK-----\n", "BLOCK-----\nVersion: GnuPG v2\n\n", 1)
    putty = ("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\n"
             "Public-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIK3Tq0mRbXfyEHb0g2Q9dQ1kq3PLn3K7\n"
             "u9SdW2Bq0p8z\nPrivate-Lines: 1\nAAAAIHs1oWdF8Nw2mB4y0x9pC3aQeR7tLkUjV5hZcGdYrXfE\n"
             "Private-MAC: 5d3c6f0e2b9a8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d")
    reply = (f"SecretAccessKey: {key}\n{openssh}\n{pkcs8}\n{encrypted}\n{ec}\n{pgp}\n{putty}\n"
             f"amex {amex[:4]} {amex[4:10]} {amex[10:]}\nthanks")
    support.add_communication_to_case(caseId=case_id, communicationBody=reply)
    assert bodies(support, case_id)[1] == "\n".join(
        [f"SecretAccessKey: {MARKER}", *[MARKER] * 6, f"amex {MARKER}-{amex[-4:]}", "thanks"])


def test_a_private_key_pasted_without_its_footer_is_redacted_to_the_end_of_the_key(support):
    lines = pem_block("RSA PRIVATE KEY").splitlines()[:-1]  # the footer got lost in the paste
    body = "Truncated paste:\n" + "\n".join(lines) + "\nThanks\nJane"
    case_id = support.create_case(subject="Key", communicationBody=body)["caseId"]
    assert bodies(support, case_id) == [f"Truncated paste:\n{MARKER}\nThanks\nJane"]


@pytest.mark.parametrize("kind", ["cards", "keys"])
def test_look_alikes_are_left_alone(support, kind):
    if kind == "cards":
        visa = luhn_complete("4", 16)
        not_luhn = visa[:-1] + str((int(visa[-1]) + 1) % 10)
        no_issuer = luhn_complete("9", 16)  # Luhn-valid, but no card issuer starts with 9
        body = (
            f"card {grouped(not_luhn, ' ')} was declined\n"  # fails the Luhn check
            f"voucher {grouped(no_issuer, '-')}\n"
            f"order {visa}\n"  # a bare run of digits with no card keyword near it: an id
            f"mixed {visa[:4]} {visa[4:8]}-{visa[8:12]} {visa[12:]}\n"  # not how cards print
            "account 123456789012, case display id 1234567890, epoch 1732665600000\n"
            "phone +1 206 555 0100, instance i-0abcd1234ef567890, vpc-0a1b2c3d4e5f67890\n"
            "arn:aws:iam::123456789012:role/Deploy and 41111111111111110000 (20 digits)"
        )
    else:
        not_a_key = secret_access_key()
        sha1 = "".join(RNG.choice("0123456789abcdef") for _ in range(40))
        body = (
            f"The request id was {not_a_key} and it failed.\n"  # no AWS keyword near it
            f"commit {sha1} touched the credentials loader\n"  # a hex hash is not a key
            f"upload token {not_a_key}x is longer than a key\n"
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ0ZZ\n-----END CERTIFICATE-----\n"
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
            "-----END PUBLIC KEY-----\n"
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK3Tq0mRbXfyEHb0g2Q9dQ1kq3PL jane@laptop"
        )
    case_id = support.create_case(subject=f"Look-alikes: {kind}", communicationBody=body)["caseId"]
    assert bodies(support, case_id) == [body]


def test_a_key_is_redacted_with_an_aws_keyword_within_30_characters_either_side(support):
    key = secret_access_key()
    near = f"secret key: {key}"
    after = f"{key} <- that is the secret-access-key"
    far = f"credentials were rotated last week, and yesterday someone pasted {key}"
    case_id = support.create_case(subject="Near and far",
                                  communicationBody="\n".join([near, after, far]))["caseId"]
    assert bodies(support, case_id) == ["\n".join([
        f"secret key: {MARKER}", f"{MARKER} <- that is the secret-access-key", far])]


def test_redaction_works_through_the_aws_cli(server, support):
    key = secret_access_key()
    card = luhn_complete("4", 16)
    cli = Path(sys.executable).with_name("aws")
    env = {**server.env, "AWS_ENDPOINT_URL": server.endpoint, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run(
        [str(cli), "support", "create-case", "--subject", "CLI",
         "--communication-body", f"export AWS_SECRET_ACCESS_KEY={key}; card {grouped(card, ' ')}"],
        capture_output=True, text=True, env=env, check=True).stdout
    case_id = json.loads(out)["caseId"]
    assert bodies(support, case_id) == [
        f"export AWS_SECRET_ACCESS_KEY={MARKER}; card {MARKER}-{card[-4:]}"]
