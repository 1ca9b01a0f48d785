"""Drive `omnidesk serve`'s speech routes with the real `openai` Python package.

Usage: openai_audio.py BASE_URL TOKEN SPOKEN_WAV WORD [WORD ...]
SPOKEN_WAV holds a spoken question whose transcript must contain every WORD.
Exits non-zero (with a message) on the first mismatch; prints "ok" at the end.
"""

import struct
import sys

import openai
from openai import OpenAI


def rms(pcm: bytes) -> float:
    n = len(pcm) // 2
    samples = struct.unpack(f"<{n}h", pcm[: n * 2])
    return (sum(s * s for s in samples) / max(n, 1)) ** 0.5 / 32768.0


def main() -> None:
    base_url, token, wav_path = sys.argv[1:4]
    words = [w.lower() for w in sys.argv[4:]]
    client = OpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=300)

    with open(wav_path, "rb") as f:
        heard = client.audio.transcriptions.create(model="whisper-1", file=f)
    text = heard.text.lower()
    for w in words:
        assert w in text, f"{w!r} not in transcript {heard.text!r}"

    with open(wav_path, "rb") as f:
        plain = client.audio.transcriptions.create(
            model="whisper-1", file=f, response_format="text"
        )
    assert isinstance(plain, str) and words[0] in plain.lower(), plain

    # A file that only claims to be audio: a clear 400, and the server goes on.
    try:
        client.audio.transcriptions.create(
            model="whisper-1", file=("lies.wav", b"RIFF\xff\xff\xff\xffWAVEnot really", "audio/wav")
        )
    except openai.BadRequestError as e:
        assert e.status_code == 400 and e.code == "invalid_media", e
    else:
        raise AssertionError("a broken WAV was transcribed")

    sentence = "The tide comes in twice a day. The moon pulls the sea."
    spoken = client.audio.speech.create(
        model="tts-1", voice="alloy", input=sentence, response_format="wav"
    )
    wav = spoken.content
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE", wav[:16]
    (rate,) = struct.unpack("<I", wav[24:28])
    assert rate == 24000, rate
    pcm = wav[44:]
    seconds = len(pcm) / 2 / rate
    # Twelve words: one to ten seconds of speech.
    assert 1.0 < seconds < 10.0, seconds
    assert rms(pcm) > 0.01, f"silent: rms {rms(pcm)}"

    chunks = []
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=sentence, response_format="pcm"
    ) as response:
        assert response.headers["content-type"] == "audio/pcm", response.headers
        for chunk in response.iter_bytes():
            chunks.append(chunk)
    raw = b"".join(chunks)
    assert len(raw) % 2 == 0
    # The same voice and text: the same length as the WAV's samples.
    assert abs(len(raw) - len(pcm)) <= 2 * rate // 10, (len(raw), len(pcm))

    try:
        client.audio.speech.create(
            model="tts-1", voice="alloy", input=sentence, response_format="mp3"
        )
    except openai.BadRequestError as e:
        assert e.status_code == 400
    else:
        raise AssertionError("mp3 was accepted")

    bad = OpenAI(base_url=base_url, api_key="wrong", max_retries=0)
    for call in (
        lambda: bad.audio.speech.create(model="tts-1", voice="alloy", input="Hi."),
        lambda: bad.audio.transcriptions.create(model="whisper-1", file=open(wav_path, "rb")),
    ):
        try:
            call()
        except openai.AuthenticationError as e:
            assert e.status_code == 401
        else:
            raise AssertionError("a wrong key was accepted")
    print("ok")


if __name__ == "__main__":
    main()
