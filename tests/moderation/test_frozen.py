"""A frozen account can't sign in, keep a session, or upload with a token."""

import pytest
from django.contrib.auth import authenticate

from accounts.events import Actor
from accounts.tokens import TokenError, api_token_create
from moderation import services
from packages.models import File
from packages.policy import upload_token
from tests.factories import make_wheel, post_upload

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


def freeze(user, moderator):
    services.user_freeze(user=user, actor=Actor(user=moderator), reason="malware")


def test_frozen_user_cannot_authenticate(owner, moderator):
    assert authenticate(username="olivia", password=PASSWORD) == owner
    freeze(owner, moderator)
    assert authenticate(username="olivia", password=PASSWORD) is None
    # Wrong passwords and unknown names are plainly refused, as before.
    assert authenticate(username="olivia", password="wrong") is None
    assert authenticate(username="nobody", password=PASSWORD) is None


def test_frozen_user_cannot_log_in_through_the_form(client, owner, moderator):
    freeze(owner, moderator)
    response = client.post("/account/login/", {"username": "olivia", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    # The right password: its owner is told why, and what to do.
    assert "This account is frozen by the index&#x27;s moderators" in response.content.decode()
    # A wrong one gets the usual answer: the freeze is no one else's business.
    response = client.post("/account/login/", {"username": "olivia", "password": "wrong"})
    text = response.content.decode()
    assert "frozen" not in text
    assert "Please enter a correct username and password" in text


def test_a_session_made_before_the_freeze_is_refused(client, owner, moderator):
    client.force_login(owner)
    owner.is_frozen = True  # as if the session had survived (e.g. made by another backend)
    owner.save(update_fields=["is_frozen"])
    response = client.get("/admin/")
    assert response.wsgi_request.user.is_anonymous


def test_frozen_users_tokens_stop_working(owner, moderator):
    secret = api_token_create(user=owner).secret
    assert upload_token(secret).user == owner
    freeze(owner, moderator)
    with pytest.raises(TokenError, match="frozen"):
        upload_token(secret)
    services.user_unfreeze(user=owner, actor=Actor(user=moderator), reason="appeal")
    assert upload_token(secret).user == owner


def test_frozen_user_cannot_upload(client, owner, moderator):
    secret = api_token_create(user=owner).secret
    freeze(owner, moderator)
    response = post_upload(client, make_wheel("fresh-project"), secret)
    assert response.status_code == 403
    assert b"frozen" in response.content
    assert not File.objects.exists()
