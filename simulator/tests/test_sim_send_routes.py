"""The send routes answered ahead of Litestar: which paths they take, and what else gets."""

import pytest
from sim_helpers import CLOUD_AUTH, CLOUD_URL, EVOLUTION_AUTH, EVOLUTION_URL, cloud_message

from disparo_simulator.routes.sends import SendRoutes


async def _evolution(request):
    raise AssertionError("not called")


async def _cloud(request):
    raise AssertionError("not called")


ROUTES = SendRoutes(_evolution, _cloud)


@pytest.mark.parametrize(
    ("path", "handler", "params"),
    [
        ("/message/sendText/recruiter-1", _evolution, {"instance": "recruiter-1"}),
        ("/message/sendText/messages", _evolution, {"instance": "messages"}),
        ("/v21.0/1234567890/messages", _cloud, {"phone_number_id": "1234567890"}),
        ("/1234567890/messages", _cloud, {"phone_number_id": "1234567890"}),
    ],
)
def test_send_paths_find_their_handler_and_parameters(path, handler, params):
    assert ROUTES.route(path) == (handler, params)


@pytest.mark.parametrize(
    "path",
    [
        "/chat/findMessages/messages",  # Evolution's lookup, for an instance named "messages"
        "/v21.0/waba-1/message_templates",
        "/_sim/sends",
        "/messages",
        "//messages",
        "/message/sendText/",
        "/a/b/c/messages",
    ],
)
def test_other_paths_are_left_to_litestar(path):
    assert ROUTES.route(path) is None


async def test_a_send_path_answers_405_to_other_methods(client):
    for url in (EVOLUTION_URL, CLOUD_URL):
        response = await client.get(url, headers={**EVOLUTION_AUTH, **CLOUD_AUTH})
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"


async def test_a_send_is_answered_as_json_with_its_length(client):
    response = await client.post(CLOUD_URL, json=cloud_message(), headers=CLOUD_AUTH)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.json()["messages"][0]["id"].startswith("wamid.")
