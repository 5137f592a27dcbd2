"""molts through the official OpenAI Python SDK, unmodified.

Reads MOLTS_BASE_URL (e.g. http://127.0.0.1:8787, no /v1) and MOLTS_ADMIN_TOKEN (the operator
token) from the environment, registers its own agents, and points `openai.OpenAI` at
`$MOLTS_BASE_URL/v1` with an agent key. Only the offline demo models are used, so it needs no
provider key. Run by scripts/sdk-tests.sh.
"""

import asyncio
import base64
import os
import struct
import time
import uuid

import httpx
import openai
import pytest
from openai import OpenAI

PROMPT = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "Tell me about lighthouses"},
]


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} must be set (scripts/sdk-tests.sh sets it)", pytrace=False)
    return value


@pytest.fixture(scope="session")
def base_url():
    return _env("MOLTS_BASE_URL").rstrip("/")


@pytest.fixture(scope="session")
def admin(base_url):
    """An httpx client for molts' own admin API, as the operator."""
    token = _env("MOLTS_ADMIN_TOKEN")
    with httpx.Client(
        base_url=base_url, headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        yield client


def unique(stem):
    return f"sdk-py-{stem}-{uuid.uuid4().hex[:10]}"


def register(base_url, instance=None):
    body = {"name": unique("agent")}
    if instance:
        body["instance"] = instance
    r = httpx.post(f"{base_url}/v1/agents/register", json=body, timeout=30)
    assert r.status_code == 201, r.text
    registered = r.json()
    assert registered["api_key"].startswith("ml_")
    return registered


def new_tier(admin, limits, **extra):
    tier_id = unique("tier")
    body = {"id": tier_id, "name": f"Tier {tier_id}", "limits": limits, **extra}
    r = admin.post("/v1/admin/tiers", json=body)
    assert r.status_code == 201, r.text
    return tier_id


def set_tier(admin, agent_id, tier_id):
    r = admin.patch(f"/v1/admin/agents/{agent_id}", json={"tier": tier_id})
    assert r.status_code == 200, r.text
    assert r.json()["tier_id"] == tier_id


def usage_used(base_url, key, unit):
    r = httpx.get(
        f"{base_url}/v1/usage", headers={"authorization": f"Bearer {key}"}, timeout=30
    )
    assert r.status_code == 200, r.text
    for u in r.json()["units"]:
        if u["unit"] == unit:
            return u["month"]["used"]
    raise AssertionError(f"no {unit} in {r.text}")


@pytest.fixture(scope="session")
def agent(base_url, admin):
    """An agent in the default instance, on a roomy tier without a rate limit."""
    registered = register(base_url)
    tier = new_tier(
        admin,
        {
            "text_token": {"month": 1_000_000},
            "image": {"month": 1000},
            "audio_second": {"month": 10_000},
        },
    )
    set_tier(admin, registered["agent_id"], tier)
    return registered


@pytest.fixture(scope="session")
def client(base_url, agent):
    return OpenAI(base_url=f"{base_url}/v1", api_key=agent["api_key"])


# --- chat completions -------------------------------------------------------------------------


def test_chat_completion(client):
    completion = client.chat.completions.create(model="demo-text", messages=PROMPT)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "demo-text"
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert "Tell me about lighthouses" in choice.message.content
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_streaming_reassembles_the_plain_reply(client):
    plain = client.chat.completions.create(model="demo-text", messages=PROMPT)
    stream = client.chat.completions.create(
        model="demo-text", messages=PROMPT, stream=True
    )
    text, finish, ids, chunks = "", None, set(), 0
    for chunk in stream:
        chunks += 1
        assert chunk.object == "chat.completion.chunk"
        assert chunk.usage is None, "usage without stream_options.include_usage"
        ids.add(chunk.id)
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert chunks > 2, "expected the reply in several chunks"
    assert len(ids) == 1 and next(iter(ids)).startswith("chatcmpl-")
    assert text == plain.choices[0].message.content
    assert finish == "stop"


def test_streaming_with_include_usage_ends_with_usage(client):
    plain = client.chat.completions.create(model="demo-text", messages=PROMPT)
    chunks = list(
        client.chat.completions.create(
            model="demo-text",
            messages=PROMPT,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.total_tokens == plain.usage.total_tokens
    assert last.usage.prompt_tokens == plain.usage.prompt_tokens
    assert all(c.usage is None for c in chunks[:-1])
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content


def test_stream_helper_accumulates_the_final_completion(client):
    plain = client.chat.completions.create(model="demo-text", messages=PROMPT)
    with client.chat.completions.stream(model="demo-text", messages=PROMPT) as stream:
        deltas = "".join(
            event.delta for event in stream if event.type == "content.delta"
        )
        final = stream.get_final_completion()
    assert deltas == plain.choices[0].message.content
    assert final.choices[0].message.content == plain.choices[0].message.content
    assert final.choices[0].finish_reason == "stop"


def test_async_client_streams(base_url, agent, client):
    plain = client.chat.completions.create(model="demo-text", messages=PROMPT)

    async def run():
        async with openai.AsyncOpenAI(
            base_url=f"{base_url}/v1", api_key=agent["api_key"]
        ) as aclient:
            stream = await aclient.chat.completions.create(
                model="demo-text", messages=PROMPT, stream=True
            )
            parts = []
            async for chunk in stream:
                parts.extend(c.delta.content or "" for c in chunk.choices)
            return "".join(parts)

    assert asyncio.run(run()) == plain.choices[0].message.content


# --- responses --------------------------------------------------------------------------------

INPUT = "Tell me about lighthouses"


def test_responses_create(client):
    response = client.responses.create(
        model="demo-text",
        instructions="be brief",
        input=INPUT,
        metadata={"suite": "python"},
    )
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.model == "demo-text"
    assert response.metadata == {"suite": "python"}
    assert len(response.output) == 1
    message = response.output[0]
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    # The SDK's own convenience property, read from output[].content[].
    assert INPUT in response.output_text
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_responses_item_list_input(client):
    response = client.responses.create(
        model="demo-text",
        input=[
            {"role": "developer", "content": "answer in one line"},
            {"role": "user", "content": [{"type": "input_text", "text": "first"}]},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": [{"type": "input_text", "text": "second"}]},
        ],
    )
    assert response.status == "completed"
    assert '"second"' in response.output_text


def test_responses_stream_is_the_documented_event_sequence(client):
    plain = client.responses.create(model="demo-text", input=INPUT)
    events = list(client.responses.create(model="demo-text", input=INPUT, stream=True))
    types = [e.type for e in events]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) == len(types) - 8 and len(deltas) > 2
    assert "".join(deltas) == plain.output_text
    completed = events[-1].response
    assert completed.status == "completed"
    assert completed.usage.total_tokens == plain.usage.total_tokens


def test_responses_stream_helper_gives_the_final_response(client):
    with client.responses.stream(model="demo-text", input=INPUT) as stream:
        deltas = "".join(
            e.delta for e in stream if e.type == "response.output_text.delta"
        )
        final = stream.get_final_response()
    assert final.status == "completed"
    assert final.output_text == deltas
    assert INPUT in deltas


def test_responses_refusals_name_the_parameter(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="demo-text", input=INPUT, previous_response_id="resp_1"
        )
    assert caught.value.param == "previous_response_id"
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="demo-text",
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": "https://example.com/a.png"}
                    ],
                }
            ],
        )
    assert caught.value.param == "input[0].content[0]"


def test_responses_exhausted_quota_is_a_rate_limit_error(base_url, admin):
    registered = register(base_url)
    set_tier(admin, registered["agent_id"], new_tier(admin, {"text_token": {"month": 1}}))
    exhausted = OpenAI(base_url=f"{base_url}/v1", api_key=registered["api_key"])
    for stream in (False, True):
        with pytest.raises(openai.RateLimitError) as caught:
            exhausted.responses.create(model="demo-text", input=INPUT, stream=stream)
        assert caught.value.code == "quota_exceeded"
        assert caught.value.response.headers["x-should-retry"] == "false"
    assert usage_used(base_url, registered["api_key"], "text_token") == 0


# --- models -----------------------------------------------------------------------------------


def test_models_list_is_what_the_default_instance_allows(client, admin):
    ids = {m.id for m in client.models.list()}
    assert {"demo-text", "demo-image", "demo-speech"} <= ids
    r = admin.get("/v1/admin/models", params={"enabled": "true"})
    assert r.status_code == 200, r.text
    assert ids == {m["id"] for m in r.json()["data"]}
    for model in client.models.list().data:
        assert model.object == "model"
        assert isinstance(model.created, int)
        assert model.owned_by


def test_models_list_follows_the_instance_allow_list(base_url, admin):
    instance = unique("inst")
    allowed = ["demo-text", "demo-speech"]
    r = admin.post(
        "/v1/admin/instances",
        json={"id": instance, "name": instance, "allowed_models": allowed},
    )
    assert r.status_code == 201, r.text
    registered = register(base_url, instance)
    scoped = OpenAI(base_url=f"{base_url}/v1", api_key=registered["api_key"])
    assert sorted(m.id for m in scoped.models.list()) == sorted(allowed)
    # A model outside the allow-list does not exist for this agent.
    with pytest.raises(openai.NotFoundError) as caught:
        scoped.images.generate(model="demo-image", prompt="a lighthouse", size="64x64")
    assert caught.value.code == "model_not_found"


# --- images and speech ------------------------------------------------------------------------


def test_image_generation_b64_json_is_a_png_of_the_size(client):
    result = client.images.generate(
        model="demo-image",
        prompt="a lighthouse at dusk",
        size="64x64",
        response_format="b64_json",
    )
    assert isinstance(result.created, int)
    assert len(result.data) == 1
    png = base64.b64decode(result.data[0].b64_json)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (64, 64)


def test_image_generation_url_is_a_data_url(client):
    result = client.images.generate(
        model="demo-image", prompt="a lighthouse", size="64x64", response_format="url"
    )
    url = result.data[0].url
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1])[:4] == b"\x89PNG"


def test_speech_is_wav(client):
    speech = client.audio.speech.create(
        model="demo-speech",
        voice="alloy",
        input="Hello from the lighthouse.",
        response_format="wav",
    )
    audio = speech.content
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE", audio[:16]
    assert struct.unpack("<I", audio[4:8])[0] == len(audio) - 8
    assert speech.response.headers["content-type"].startswith("audio/wav")


# --- errors -----------------------------------------------------------------------------------


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=PROMPT)
    err = caught.value
    assert err.status_code == 404
    assert err.code == "model_not_found"
    assert err.param == "model"
    assert err.type == "invalid_request_error"
    assert "no-such-model" in err.message


def test_bad_key_is_an_authentication_error(base_url):
    bad = OpenAI(base_url=f"{base_url}/v1", api_key="ml_" + "0" * 64)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model="demo-text", messages=PROMPT)
    assert caught.value.status_code == 401
    assert caught.value.type == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_exhausted_quota_is_a_rate_limit_error_and_not_retried(base_url, admin):
    registered = register(base_url)
    # One text token a month: any chat completion is refused before any work. A generous
    # request rate makes molts count requests in x-ratelimit-remaining, which is how the server
    # side shows it saw exactly one request.
    tier = new_tier(admin, {"text_token": {"month": 1}}, requests_per_minute=1000)
    set_tier(admin, registered["agent_id"], tier)

    sent = []
    http_client = openai.DefaultHttpxClient(
        event_hooks={"request": [lambda request: sent.append(request.url.path)]}
    )
    # The default max_retries (2) is left as it is: the SDK must choose not to retry.
    exhausted = OpenAI(
        base_url=f"{base_url}/v1", api_key=registered["api_key"], http_client=http_client
    )
    assert exhausted.max_retries == 2

    def remaining_now():
        raw = exhausted.models.with_raw_response.list()
        return int(raw.headers["x-ratelimit-remaining"]), int(
            raw.headers["x-ratelimit-reset"]
        )

    for stream in (False, True):
        before, reset = remaining_now()
        if reset < 5:  # keep both requests inside one one-minute window
            time.sleep(reset + 1)
            before, _ = remaining_now()
        sent.clear()
        started = time.monotonic()
        with pytest.raises(openai.RateLimitError) as caught:
            exhausted.chat.completions.create(
                model="demo-text", messages=PROMPT, stream=stream
            )
        elapsed = time.monotonic() - started
        err = caught.value
        assert err.status_code == 429
        assert err.code == "quota_exceeded"
        assert err.type == "insufficient_quota"
        assert err.response.headers["x-should-retry"] == "false"
        assert sent == ["/v1/chat/completions"], f"the SDK sent {sent}"
        after = int(err.response.headers["x-ratelimit-remaining"])
        assert before - after == 1, f"molts counted {before - after} requests"
        # A retry would have slept at least 0.375 s first; allow for a slow machine anyway.
        assert elapsed < 5, elapsed

    assert usage_used(base_url, registered["api_key"], "text_token") == 0
