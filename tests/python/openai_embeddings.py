"""Drive `omnidesk serve`'s /v1/embeddings with the real `openai` package.

Usage: openai_embeddings.py BASE_URL TOKEN EMBEDDING_MODEL_ID
Exits non-zero (with a message) on the first mismatch; prints "ok" at the end.
The client asks for base64 by default and decodes it itself; float is
checked against it.
"""

import math
import sys

import openai
from openai import OpenAI


def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def main() -> None:
    base_url, token, model = sys.argv[1:4]
    client = OpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=120)

    texts = ["The cat sat on the mat.", "A cat was sitting on a rug.", "Tax returns are due in April."]
    default = client.embeddings.create(model=model, input=texts)
    assert default.model == model, default.model
    assert [d.index for d in default.data] == [0, 1, 2], default.data
    vecs = [d.embedding for d in default.data]
    assert all(len(v) == 384 for v in vecs), [len(v) for v in vecs]
    assert abs(math.sqrt(sum(x * x for x in vecs[0])) - 1.0) < 1e-3
    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2]), "cat sentences should be closest"
    assert default.usage.prompt_tokens > 0, default.usage
    assert default.usage.total_tokens == default.usage.prompt_tokens, default.usage

    floats = client.embeddings.create(model=model, input=texts[0], encoding_format="float")
    assert len(floats.data) == 1
    diff = max(abs(a - b) for a, b in zip(floats.data[0].embedding, vecs[0]))
    assert diff < 1e-5, diff

    try:
        client.embeddings.create(model=model, input="word " * 2000)
    except openai.BadRequestError as e:
        assert e.status_code == 400
        assert e.code == "input_too_long", e.code
    else:
        raise AssertionError("an over-long input was accepted")

    print("ok")


if __name__ == "__main__":
    main()
