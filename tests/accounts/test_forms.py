"""The one normalization of usernames and addresses: what the forms read is
what the rate limits count (accounts.views.accounts)."""

import pytest

from accounts.forms import (
    LoginForm,
    RegistrationForm,
    VerifiedAddressPasswordResetForm,
    normalize_email,
    normalize_username,
)


def full_width(text: str) -> str:
    """``text`` in full-width letters: what NFKC turns back into ASCII."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


@pytest.mark.parametrize(
    "raw, normalized",
    [
        ("olivia", "olivia"),
        (" olivia", "olivia"),
        ("olivia\t", "olivia"),
        ("\u3000olivia\u00a0", "olivia"),  # ideographic and no-break spaces
        (full_width("olivia"), "olivia"),  # full width
        ("ﬀ", "ff"),  # a ligature
        ("Olivia", "Olivia"),  # case is the lookup's business
    ],
)
def test_normalize_username(raw, normalized):
    assert normalize_username(raw) == normalized


def test_an_overlong_username_is_left_unnormalized():
    # The form refuses it anyway; NFKC over an attacker's megabyte costs time.
    raw = " " + full_width("o" * 151)
    assert normalize_username(raw) == raw.strip()


@pytest.mark.parametrize(
    "raw, normalized",
    [
        ("olivia@example.com", "olivia@example.com"),
        (" Olivia@Example.COM\t", "olivia@example.com"),
        (full_width("olivia@example.com"), "olivia@example.com"),
        ("a" * 250 + full_width("@EX.com"), "a" * 250 + full_width("@ex.com")),  # too long: as is
    ],
)
def test_normalize_email(raw, normalized):
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize("raw", [" olivia", "olivia\t", full_width("olivia"), "\u3000Olivia"])
def test_login_form_reads_the_name_as_the_limit_counts_it(db, raw):
    form = LoginForm(data={"username": raw, "password": "x"})
    form.is_valid()
    assert form.cleaned_data["username"] == normalize_username(raw)


def test_registration_form_reads_the_name_the_same_way(db):
    form = RegistrationForm(
        data={
            "username": "\t" + full_width("new"),
            "email": "new@example.com",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
        }
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["username"] == "new"


def test_reset_form_reads_the_address_as_the_limit_counts_it(db):
    form = VerifiedAddressPasswordResetForm(
        data={"email": " " + full_width("olivia") + "@Example.com"}
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["email"] == "olivia@example.com"


def test_an_empty_username_is_missing_not_normalized(db):
    form = LoginForm(data={"username": "   ", "password": "x"})
    assert not form.is_valid()
    assert "username" in form.errors
