import pyotp
import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from accounts import two_factor
from accounts.events import Actor
from accounts.models import Event

pytestmark = pytest.mark.django_db

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def make_request(user=None, host="testserver"):
    request = RequestFactory().get("/", HTTP_HOST=host)
    request.session = SessionStore()
    request.user = user or AnonymousUser()
    return request


@pytest.mark.parametrize(
    ("offset", "expected"), [(-1, 99), (0, 100), (1, 101), (-2, None), (2, None)]
)
def test_totp_accepts_one_step_either_side(offset, expected):
    code = pyotp.TOTP(SECRET).at((100 + offset) * 30)
    assert two_factor.totp_match_step(SECRET, code, after=None, now=100 * 30 + 5) == expected


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef"])
def test_totp_refuses_malformed_codes(code):
    assert two_factor.totp_match_step(SECRET, code, after=None, now=3000) is None


def test_totp_refuses_steps_up_to_the_last_one():
    now = 100 * 30
    code = pyotp.TOTP(SECRET).at(now)
    assert two_factor.totp_match_step(SECRET, code, after=100, now=now) is None
    assert two_factor.totp_match_step(SECRET, code, after=99, now=now) == 100
    # Spaces, as some apps show "123 456", are ignored.
    spaced = f"{code[:3]} {code[3:]}"
    assert two_factor.totp_match_step(SECRET, spaced, after=None, now=now) == 100


def test_totp_verify_without_an_app_is_false(owner):
    assert two_factor.totp_verify(user=owner, code="123456") is False


def test_two_requests_with_one_code_only_one_wins(owner):
    owner.totp_secret = SECRET
    owner.save()
    stale = type(owner).objects.get(pk=owner.pk)  # a second request's copy
    code = pyotp.TOTP(SECRET).now()
    assert two_factor.totp_verify(user=owner, code=code) is True
    assert two_factor.totp_verify(user=stale, code=code) is False


def test_one_recovery_code_spent_by_two_requests_only_once(owner):
    codes = two_factor.recovery_codes_generate(user=owner, actor=Actor(owner))
    actor = Actor.from_request(make_request())
    assert two_factor.recovery_code_use(user=owner, code=codes[3], actor=actor) is True
    assert two_factor.recovery_code_use(user=owner, code=codes[3], actor=actor) is False
    assert two_factor.recovery_code_use(user=owner, code="nonsense", actor=actor) is False
    assert Event.objects.filter(tag="account:two-factor:recovery-code-used").count() == 1


def test_enable_refuses_when_already_set_up_or_expired(owner):
    request = make_request(owner)
    actor = Actor.from_request(request)
    with pytest.raises(two_factor.TwoFactorError, match="set-up expired"):
        two_factor.totp_enable(user=owner, actor=actor, request=request, code="123456")
    owner.totp_secret = SECRET
    with pytest.raises(two_factor.TwoFactorError, match="already set up"):
        two_factor.totp_enable(user=owner, actor=actor, request=request, code="123456")


@pytest.mark.parametrize(
    ("host", "rp_id", "origin"),
    [
        ("pypi.example.org:8443", "pypi.example.org", "http://pypi.example.org:8443"),
        ("localhost", "localhost", "http://localhost"),
    ],
)
def test_rp_id_is_the_host_without_port(settings, host, rp_id, origin):
    settings.ALLOWED_HOSTS = ["*"]
    request = make_request(host=host)
    assert two_factor.webauthn_rp_id(request) == rp_id
    assert two_factor.webauthn_origin(request) == origin


def test_authenticating_without_options_first_is_refused(owner):
    with pytest.raises(two_factor.TwoFactorError, match="expired"):
        two_factor.webauthn_authenticate(user=owner, request=make_request(), credential={})


def gated_view(request):
    from django.http import HttpResponse

    return HttpResponse("managed")


def test_two_factor_required_sends_accounts_without_2fa_to_the_settings(owner, settings):
    from django.contrib.messages.storage.fallback import FallbackStorage

    view = two_factor.two_factor_required(gated_view)
    request = make_request(owner)
    request._messages = FallbackStorage(request)
    assert view(request)["Location"] == "/account/two-factor/"
    settings.REQUIRE_2FA_TO_MANAGE = False
    assert view(request).content == b"managed"
    settings.REQUIRE_2FA_TO_MANAGE = True
    owner.totp_secret = SECRET
    assert view(request).content == b"managed"


def test_factor_rows_name_their_account(owner):
    from accounts.models import WebAuthnCredential

    key = WebAuthnCredential.objects.create(
        user=owner, label="blue", credential_id="a", public_key="b"
    )
    codes = two_factor.recovery_codes_generate(user=owner, actor=Actor(owner))
    assert str(key) == "blue (olivia)"
    assert str(owner.recovery_codes.first()) == "recovery code of olivia"
    assert len(codes) == 8
