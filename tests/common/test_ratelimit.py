"""Rate limits: the limiter over the cache (the embedded default's disk cache,
or Redis when REDIS_URL is set), the 429 answer, the view decorator, and the two limits the
upload endpoint applies."""

import io
import multiprocessing

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from accounts.tokens import api_token_create
from common.ratelimit import (
    RateLimit,
    client_network,
    limit,
    limit_hit,
    limit_take,
    limit_wait,
    too_many_requests,
    try_again,
)
from packages.models import Project
from packages.views.upload import file_upload
from tests.factories import basic, make_wheel, post_upload
from tests.pypi_site.test_settings import load


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def hits(rule: RateLimit, count: int, *identifiers: str) -> None:
    for _ in range(count):
        rule.hit(*identifiers)


# --- the limiter ------------------------------------------------------------------


def test_allowed_until_the_limit_then_refused(clock):
    rule = RateLimit("login", 3, 300, clock=clock)
    for _ in range(3):
        assert rule.exceeded("alice") is None
        rule.hit("alice")

    assert rule.exceeded("alice") is not None


def test_retry_after_is_the_rest_of_the_window(clock):
    rule = RateLimit("login", 1, 300, clock=clock)
    clock.now = 300 * 5000 + 100.5  # 100.5 s into a window
    rule.hit("alice")

    assert rule.exceeded("alice") == 200


def test_identifiers_and_scopes_count_apart(clock):
    rule = RateLimit("login", 2, 300, clock=clock)
    hits(rule, 2, "alice")

    assert rule.exceeded("alice") is not None
    assert rule.exceeded("bob") is None
    assert rule.exceeded("alice", "10.0.0.1") is None
    assert RateLimit("register", 2, 300, clock=clock).exceeded("alice") is None


def test_a_new_window_starts_afresh(clock):
    rule = RateLimit("login", 2, 300, clock=clock)
    clock.now = 300 * 5000
    hits(rule, 2, "alice")
    clock.now += 299

    assert rule.exceeded("alice") == 1
    clock.now += 1
    assert rule.exceeded("alice") is None
    rule.hit("alice")
    assert rule.exceeded("alice") is None


def _hit_together(rule: RateLimit, start, count: int) -> None:
    start.wait(30)
    hits(rule, count, "alice")


def test_workers_processes_count_into_one_total(clock):
    # gunicorn's workers are separate processes hitting at the same moment:
    # every hit of every one counts, none is lost to a race between add() and
    # incr(). A per-process cache would count 50 in each.
    workers, each = 4, 50
    context = multiprocessing.get_context("fork")
    start = context.Barrier(workers)
    rule = RateLimit("login", workers * each, 300, clock=clock)
    processes = [
        context.Process(target=_hit_together, args=(rule, start, each)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0] * workers

    assert rule.exceeded("alice") is not None
    assert RateLimit("login", workers * each + 1, 300, clock=clock).exceeded("alice") is None


def test_keys_hold_no_identifier(clock, monkeypatch):
    keys = []
    real_add = cache.add

    def recording_add(key, *args, **kwargs):
        keys.append(key)
        return real_add(key, *args, **kwargs)

    monkeypatch.setattr(cache, "add", recording_add)
    RateLimit("password-reset", 3, 3600, clock=clock).hit("alice@example.com", "192.0.2.7")

    assert len(keys) == 1
    assert keys[0].startswith("ratelimit:password-reset:")
    assert "alice" not in keys[0]
    assert "192.0.2" not in keys[0]


def test_key_expiring_between_add_and_incr_still_counts(clock, monkeypatch):
    rule = RateLimit("login", 1, 300, clock=clock)
    real_add = cache.add
    calls = []

    def add_lost_to_expiry(key, value, timeout):
        calls.append(value)
        # The first add() finds the key still there; it expires before incr().
        return False if len(calls) == 1 else real_add(key, value, timeout)

    monkeypatch.setattr(cache, "add", add_lost_to_expiry)
    assert rule.hit("alice") == 1

    assert calls == [0, 1]
    assert rule.exceeded("alice") is not None


def test_configured_limits_come_from_settings(settings):
    settings.RATELIMITS = {**settings.RATELIMITS, "login": (4, 60)}

    rule = limit("login")

    assert (rule.scope, rule.limit, rule.window_seconds) == ("login", 4, 60)
    assert limit("project-create").limit == 20


# --- the answer -----------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds, text",
    [(1, "Try again in 1 seconds."), (119, "Try again in 119 seconds."),
     (120, "Try again in 2 minutes."), (3599, "Try again in 60 minutes.")],
)  # fmt: skip
def test_try_again(seconds, text):
    assert try_again(seconds) == text


def test_too_many_requests_carries_retry_after_and_message():
    response = too_many_requests(250, "Too many sign-in attempts.")

    assert response.status_code == 429
    assert response["Retry-After"] == "250"
    assert response.reason_phrase == "Too many sign-in attempts. Try again in 5 minutes."
    assert "Too many sign-in attempts. Try again in 5 minutes." in response.content.decode()


def test_too_many_requests_has_a_default_reason():
    assert too_many_requests(30).reason_phrase == "Too many attempts. Try again in 30 seconds."


# --- several limits on one attempt -------------------------------------------------


@pytest.fixture
def two_logins(settings):
    settings.RATELIMITS = {**settings.RATELIMITS, "login": (2, 300), "login-ip": (2, 300)}


def test_rules_wait_for_the_limit_reached_and_count_against_all(two_logins):
    rules = [("login", ["alice"]), ("login-ip", ["192.0.2.1"])]
    assert limit_wait(rules) is None
    limit_hit(rules)
    limit_hit(rules)
    assert limit_wait(rules) > 0
    # Another account from the same address waits too (the IP's limit is reached) ...
    assert limit_wait([("login", ["bob"]), ("login-ip", ["192.0.2.1"])]) > 0
    # ... and the same account from elsewhere (its name's limit is reached).
    assert limit_wait([("login", ["alice"]), ("login-ip", ["192.0.2.2"])]) > 0
    assert limit_wait([("login", ["bob"]), ("login-ip", ["192.0.2.2"])]) is None


def test_take_counts_then_lets_exactly_the_limit_through(clock):
    rule = RateLimit("login", 2, 300, clock=clock)
    clock.now = 300 * 5000 + 100.5
    assert [rule.take("alice") for _ in range(4)] == [None, None, 200, 200]
    assert rule.hit("alice") == 5  # refused attempts counted too


def _take_together(rule: RateLimit, start, allowed, count: int) -> None:
    start.wait(30)
    for _ in range(count):
        if rule.take("alice") is None:
            with allowed.get_lock():
                allowed.value += 1


def test_take_lets_exactly_the_limit_through_processes_at_once(clock):
    # Checking before counting lets through every attempt that checks before
    # the others count; counting first decides each attempt in one step.
    workers, each, ceiling = 4, 40, 50
    context = multiprocessing.get_context("fork")
    start, allowed = context.Barrier(workers), context.Value("i", 0)
    rule = RateLimit("login", ceiling, 300, clock=clock)
    processes = [
        context.Process(target=_take_together, args=(rule, start, allowed, each))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0] * workers
    assert allowed.value == ceiling


def test_take_on_several_rules_waits_for_the_longest(settings):
    settings.RATELIMITS = {**settings.RATELIMITS, "login": (1, 300), "login-ip": (1, 3600)}
    rules = [("login", ["alice"]), ("login-ip", ["192.0.2.1"])]
    assert limit_take(rules) is None

    wait = limit_take(rules)

    longest = max(limit("login").exceeded("alice"), limit("login-ip").exceeded("192.0.2.1"))
    assert longest <= wait <= longest + 1  # a second may pass between the two reads
    # An attempt that is refused still counts, against every rule.
    assert limit_take([("login", ["bob"]), ("login-ip", ["192.0.2.1"])]) is not None
    assert limit_wait([("login", ["bob"])]) is not None


@pytest.mark.parametrize(
    "ip, counted_as",
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),  # a subscriber's whole /64
        ("2001:DB8:1:2::ffff", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # IPv4 written as IPv6
        (None, ""),  # no peer address (a Unix socket)
        ("unknown", "unknown"),
    ],
)
def test_client_network(ip, counted_as):
    assert client_network(ip) == counted_as


# --- settings ---------------------------------------------------------------------

LIMIT_NAMES = (
    "login",
    "login-ip",
    "register",
    "password-reset",
    "password-reset-ip",
    "upload-auth-failure",
    "project-create",
    "organization-create",
    "organization-invite",
    "oidc-mint-failure",
)


def load_clean(monkeypatch, tmp_path, **env):
    for name in LIMIT_NAMES:
        monkeypatch.delenv(f"RATELIMIT_{name.upper().replace('-', '_')}", raising=False)
    return load(monkeypatch, tmp_path, **env)


def test_default_limits(monkeypatch, tmp_path):
    limits = load_clean(monkeypatch, tmp_path).RATELIMITS

    assert set(limits) == set(LIMIT_NAMES)
    assert limits["login"] == (10, 300)
    assert limits["login-ip"] == (50, 300)
    assert limits["upload-auth-failure"] == (20, 300)
    assert limits["project-create"] == (20, 3600)
    assert limits["organization-create"] == (5, 3600)
    assert limits["organization-invite"] == (30, 3600)
    assert limits["oidc-mint-failure"] == (30, 300)


def test_limits_from_the_environment(monkeypatch, tmp_path):
    limits = load_clean(
        monkeypatch, tmp_path, RATELIMIT_LOGIN=" 5/60 ", RATELIMIT_PROJECT_CREATE="100/86400"
    ).RATELIMITS

    assert limits["login"] == (5, 60)
    assert limits["project-create"] == (100, 86400)
    assert limits["register"] == (10, 3600)


@pytest.mark.parametrize("value", ["10", "10/", "/300", "0/300", "10/0", "ten/300", "1.5/60",
                                   "10 per 300", "-1/300", "10/300/2", "²/300"])  # fmt: skip
def test_malformed_limit_stops_start_up(monkeypatch, tmp_path, value):
    with pytest.raises(ImproperlyConfigured, match=r"RATELIMIT_LOGIN_IP=.*<hits>/<seconds>"):
        load_clean(monkeypatch, tmp_path, RATELIMIT_LOGIN_IP=value)


# --- the upload endpoint ------------------------------------------------------------


@pytest.fixture
def token(owner):
    return api_token_create(user=owner).secret


@pytest.fixture
def two_failures(settings):
    settings.RATELIMITS = {**settings.RATELIMITS, "upload-auth-failure": (2, 300)}


def upload(client, name: str, secret: str, ip: str = "192.0.2.1"):
    dist = make_wheel(name, "1.0")
    client.defaults["REMOTE_ADDR"] = ip
    return post_upload(client, dist, secret)


@pytest.mark.django_db
def test_failed_token_authentications_lock_the_address_out(client, token, two_failures):
    for _ in range(2):
        assert upload(client, "sample-project", "pypi-wrong").status_code == 403

    refused = upload(client, "sample-project", token)  # even a good token, now
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 300
    assert "Too many failed upload authentications" in refused.reason_phrase
    assert not Project.objects.exists()
    # Another address is not affected.
    assert upload(client, "sample-project", token, ip="192.0.2.2").status_code == 200


@pytest.mark.django_db
def test_failures_from_one_ipv6_network_count_together(client, token, two_failures):
    # Each attempt from another address of the same /64 (an IPv6 client has them all).
    for host in (1, 2):
        response = upload(client, "sample-project", "pypi-wrong", ip=f"2001:db8:0:1::{host}")
        assert response.status_code == 403

    assert upload(client, "sample-project", token, ip="2001:db8:0:1::3").status_code == 429
    assert upload(client, "sample-project", token, ip="2001:db8:0:2::1").status_code == 200


@pytest.mark.django_db
def test_missing_credentials_do_not_count(client, token, two_failures):
    client.defaults["REMOTE_ADDR"] = "192.0.2.1"
    for _ in range(3):
        assert client.post("/legacy/", {":action": "file_upload"}).status_code == 401

    assert upload(client, "sample-project", token).status_code == 200


@pytest.mark.django_db
def test_password_attempts_count(client, token, two_failures):
    client.defaults["REMOTE_ADDR"] = "192.0.2.1"
    for _ in range(2):
        response = client.post("/legacy/", {}, HTTP_AUTHORIZATION=basic("hunter2", "alice"))
        assert response.status_code == 403

    assert upload(client, "sample-project", token).status_code == 429


@pytest.mark.django_db
def test_locked_out_request_body_is_read_before_the_answer(two_failures):
    limit("upload-auth-failure").hit("192.0.2.1")
    limit("upload-auth-failure").hit("192.0.2.1")
    body = b"x" * 300_000
    request = RequestFactory().generic(
        "POST", "/legacy/", body, content_type="application/octet-stream", REMOTE_ADDR="192.0.2.1"
    )
    request._stream = io.BytesIO(body)

    response = file_upload(request)

    assert response.status_code == 429
    assert request._stream.read() == b""


@pytest.fixture
def two_projects(settings):
    settings.RATELIMITS = {**settings.RATELIMITS, "project-create": (2, 3600)}


@pytest.mark.django_db
def test_new_projects_are_limited_per_user(
    client, owner, maintainer, token, two_projects, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(client, "first-project", token).status_code == 200
        assert upload(client, "second-project", token).status_code == 200

    refused = upload(client, "third-project", token)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "Too many new projects created by 'olivia'" in refused.reason_phrase
    assert "Too many new projects" in refused.content.decode()
    assert not Project.objects.filter(normalized_name="third-project").exists()

    # Uploads to a project that exists go on.
    dist = make_wheel("first-project", "2.0")
    assert post_upload(client, dist, token).status_code == 200
    # Another user has their own count.
    other = api_token_create(user=maintainer).secret
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(client, "third-project", other).status_code == 200


@pytest.mark.django_db
def test_refused_new_projects_do_not_count(client, owner, token, two_projects):
    dist = make_wheel("first-project", "1.0")
    for _ in range(3):
        assert post_upload(client, dist, token, sha256_digest="0" * 64).status_code == 400

    assert limit("project-create").exceeded(str(owner.pk)) is None
    assert upload(client, "first-project", token).status_code == 200
