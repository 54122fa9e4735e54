import pytest

from common.http import NUL_IN_QUERY, error_response, reason_phrase


def test_reason_phrase_collapses_line_breaks_and_runs_of_whitespace():
    assert reason_phrase("first line\r\nsecond\tline\n\n third ") == "first line second line third"


def test_reason_phrase_replaces_characters_outside_latin_1():
    phrase = reason_phrase("Name 'smörgås' ok, name '名前' not, dash \u2014 neither")
    assert phrase == "Name 'smörgås' ok, name '??' not, dash ? neither"
    phrase.encode("latin-1")


def test_reason_phrase_is_truncated_to_400_characters():
    assert reason_phrase("x" * 1000) == "x" * 400


def test_error_response_carries_the_message_in_status_line_and_body():
    response = error_response(400, "File too large.\nSee /help/.")
    assert response.status_code == 400
    assert response.reason_phrase == "File too large. See /help/."
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "400 Bad Request\n\nFile too large.\nSee /help/.\n"


def test_error_response_body_keeps_characters_the_reason_phrase_cannot():
    response = error_response(403, "Projekt '名前' gehört dir nicht")
    assert response.reason_phrase == "Projekt '??' gehört dir nicht"
    assert "名前" in response.content.decode()


def test_error_response_passes_extra_headers():
    response = error_response(401, "Log in.", headers={"WWW-Authenticate": 'Basic realm="x"'})
    assert response["WWW-Authenticate"] == 'Basic realm="x"'


def test_error_response_adds_no_challenge_by_default():
    assert "WWW-Authenticate" not in error_response(404, "Not here.")


@pytest.mark.parametrize(
    "query",
    [
        "tag=%00",
        "name=a%00b",
        "q=x&c=%00",
        "%00=1",
        "username__exact=%00&o=1",
        "next=/account/%00",
    ],
)
@pytest.mark.django_db
def test_a_nul_in_the_query_string_is_a_400_before_any_view(client, moderator, query):
    # Every field lookup of the admin's lists took it to PostgreSQL: a 500.
    client.force_login(moderator)
    for path in ("/admin/accounts/event/", "/admin/packages/project/", "/search/", "/simple/"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400
        assert "NUL character" in response.reason_phrase
        assert NUL_IN_QUERY in response.content.decode()


@pytest.mark.django_db
def test_other_query_strings_go_through(client):
    assert client.get("/search/?q=%01x&c=%C3%A9").status_code == 200
