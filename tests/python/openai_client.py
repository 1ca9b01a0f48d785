"""Drive `omnidesk serve` with the real `openai` Python package.

Usage: openai_client.py BASE_URL TOKEN MODEL_ID
Exits non-zero (with a message) on the first mismatch; prints "ok" at the end.
No pytest: plain asserts, run by tests/server.rs.
"""

import sys

import openai
from openai import OpenAI


def main() -> None:
    base_url, token, model_id = sys.argv[1:4]
    client = OpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=120)

    models = [m.id for m in client.models.list()]
    assert model_id in models, f"{model_id!r} not in {models!r}"

    question = [{"role": "user", "content": "Name three colours."}]
    plain = client.chat.completions.create(
        model=model_id, messages=question, temperature=0, seed=3, max_tokens=16
    )
    text = plain.choices[0].message.content
    assert text, "empty answer"
    assert plain.choices[0].finish_reason in ("stop", "length"), plain.choices[0].finish_reason
    assert plain.usage.prompt_tokens > 0 and plain.usage.completion_tokens > 0, plain.usage

    stream = client.chat.completions.create(
        model=model_id,
        messages=question,
        temperature=0,
        seed=3,
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
    )
    deltas, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                deltas.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    streamed = "".join(deltas)
    assert streamed == text, f"stream {streamed!r} != plain {text!r}"
    assert finish == plain.choices[0].finish_reason, finish
    assert usage is not None and usage.completion_tokens == plain.usage.completion_tokens, usage

    bad = OpenAI(base_url=base_url, api_key="wrong", max_retries=0)
    try:
        bad.models.list()
    except openai.AuthenticationError as e:
        assert e.status_code == 401
    else:
        raise AssertionError("a wrong key was accepted")

    try:
        client.chat.completions.create(
            model=model_id,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}}
                    ],
                }
            ],
        )
    except openai.BadRequestError as e:
        assert e.status_code == 400
    else:
        raise AssertionError("an http image URL was accepted")

    print("ok")


if __name__ == "__main__":
    main()
