#!/usr/bin/env python3
"""Talk-mode latency, hands-free, in a PulseAudio "room": the reply plays
into a null sink whose sound loops back into the microphone 40 ms later
(echo cancellation must remove it), and questions are spoken into the
microphone through a paced pacat stream.

Per set-up it reports, over REPS spoken questions: end of speech → first
token and → first audio (as `omnidesk talk` measures them: from the last
voiced frame, so the 700 ms pause that ends a turn is included), and over
REPS barge-ins: spoken onset → voice silenced, split into the test bed's
transport (until the sound reached the listener) and Omnidesk's part
(heard → silent).

Usage: bench_talk.py BIN CONFIG NAME MODEL [REPS]
"""
import fcntl
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave

F_SETPIPE_SZ = 1031


def now_ms():
    return time.time() * 1e3


def espeak_wav(path, text, pad=1.5):
    raw = path + ".espeak.wav"
    subprocess.run(["espeak-ng", "-w", raw, text], check=True)
    subprocess.run(["sox", raw, "-r", "48000", "-c", "1", "-b", "16", path, "pad", "0", str(pad)], check=True)
    with wave.open(path) as w:
        return w.readframes(w.getnframes())


class Room:
    def __init__(self, tmp):
        self.dir = tmp
        sock = os.path.join(tmp, "native")
        self.env = dict(os.environ, PULSE_SERVER=f"unix:{sock}", HOME=tmp,
                        PULSE_RUNTIME_PATH=os.path.join(tmp, "runtime"))
        conf = os.path.join(tmp, "asound-pulse.conf")
        with open(conf, "w") as f:
            f.write("pcm.!default { type pulse }\nctl.!default { type pulse }\n")
        self.env["ALSA_CONFIG_PATH"] = f"/usr/share/alsa/alsa.conf:{conf}"
        self.daemon = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
             "--use-pid-file=no", "--system=false",
             f"--load=module-native-protocol-unix auth-anonymous=1 socket={sock}",
             "--load=module-null-sink sink_name=speakers",
             "--load=module-null-sink sink_name=mic",
             "--load=module-loopback source=speakers.monitor sink=mic latency_msec=40"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        subprocess.run(["pactl", "set-default-sink", "speakers"], env=self.env, check=True)
        subprocess.run(["pactl", "set-default-source", "mic.monitor"], env=self.env, check=True)
        self.mic = subprocess.Popen(
            ["pacat", "--playback", "--device=mic", "--raw", "--format=s16le", "--rate=48000",
             "--channels=1", "--latency-msec=10"],
            env=self.env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        fcntl.fcntl(self.mic.stdin.fileno(), F_SETPIPE_SZ, 4096)
        self.queue = []
        self.lock = threading.Condition()
        threading.Thread(target=self._writer, daemon=True).start()

    def _writer(self):
        silence = bytes(960)
        while True:
            with self.lock:
                job = self.queue.pop(0) if self.queue else None
            try:
                if job is None:
                    self.mic.stdin.write(silence)
                    self.mic.stdin.flush()
                    continue
                self._play(*job)
            except (BrokenPipeError, ValueError, OSError):
                return

    def _play(self, pcm, done):
            onset = next((i for i in range(0, len(pcm), 2)
                          if abs(int.from_bytes(pcm[i:i + 2], "little", signed=True)) > 655), 0)
            for i in range(0, len(pcm), 960):
                self.mic.stdin.write(pcm[i:i + 960])
                self.mic.stdin.flush()
                if i + 960 > onset and not done["at"]:
                    done["at"] = now_ms()
                    with self.lock:
                        self.lock.notify_all()

    def say(self, pcm):
        done = {"at": None}
        with self.lock:
            self.queue.append((pcm, done))
            while done["at"] is None:
                self.lock.wait()
        return done["at"]

    def close(self):
        for p in (self.mic, self.daemon):
            p.kill()
            p.wait()


class Talk:
    def __init__(self, room, binary, config, model, data):
        env = dict(room.env, OMNIDESK_CONFIG=config, OMNIDESK_DATA_DIR=data)
        self.p = subprocess.Popen([binary, "talk", "--json", "--no-save", "-t", "2", "--temp", "0",
                                   "-n", "48", "--model", model],
                                  env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=open(os.environ.get("BENCH_TALK_LOG") or os.path.join(data, "talk.err"), "w"),
                                  text=True)
        self.unasked = []

    def wait_for(self, name, timeout=120, after=None):
        """The next `name` event (at or after `after` Unix ms, if given);
        every speech start seen on the way that was not asked for is
        counted in `self.unasked`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.p.stdout.readline()
            if not line:
                raise SystemExit(f"talk ended while waiting for {name}")
            ev = json.loads(line)
            if os.environ.get("BENCH_DEBUG"):
                print(ev["event"], round(ev["unix_ms"]), file=sys.stderr, flush=True)
            if ev["event"] == name and (after is None or ev["unix_ms"] >= after):
                return ev
            if ev["event"] == "speech_started":
                self.unasked.append(ev)
        raise SystemExit(f"no {name} within {timeout}s")

    def close(self):
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()


def main():
    binary, config, name, model = sys.argv[1:5]
    reps = int(sys.argv[5]) if len(sys.argv) > 5 else 10
    with tempfile.TemporaryDirectory() as tmp:
        q = espeak_wav(os.path.join(tmp, "q.wav"), "What is the capital of France? Answer in one sentence.")
        stop = espeak_wav(os.path.join(tmp, "stop.wav"), "Stop. Tell me about the weather instead.")
        room = Room(tmp)
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        talk = Talk(room, binary, config, model, data)
        try:
            talk.wait_for("listening")
            first_token, first_audio = [], []
            for _ in range(reps):
                room.say(q)
                talk.wait_for("speech_started")
                a = talk.wait_for("answer")
                first_token.append(a["speech_end_to_first_token_ms"])
                if a["speech_end_to_first_audio_ms"] is not None:
                    first_audio.append(a["speech_end_to_first_audio_ms"])
                talk.wait_for("listening")
            total, ours, transport = [], [], []
            for _ in range(reps):
                room.say(q)
                talk.wait_for("speech_started")
                talk.wait_for("speaking")
                time.sleep(0.8)
                onset = room.say(stop)
                s = talk.wait_for("speech_started", after=onset - 50)
                silenced = s["unix_ms"] + 5
                total.append(silenced - onset)
                ours.append(silenced - s["sound_unix_ms"])
                transport.append(s["sound_unix_ms"] - onset)
                talk.wait_for("answer")  # the interrupted one
                talk.wait_for("answer")  # the new question's
                talk.wait_for("listening")
        finally:
            talk.close()
            room.close()
    med = lambda xs: f"{statistics.median(xs):7.0f}" if xs else "    n/a"
    mx = lambda xs: f"{max(xs):7.0f}" if xs else "    n/a"
    print(f"{name:8} end of speech → first token {med(first_token)} ms (max {mx(first_token)}), "
          f"→ first audio {med(first_audio)} ms (max {mx(first_audio)}); "
          f"barge-in onset → silent {med(total)} ms (max {mx(total)}) = "
          f"bed transport {med(transport)} + heard → silent {med(ours)} (max {mx(ours)}); "
          f"speech starts nobody spoke (the reply heard itself): {len(talk.unasked)}")


if __name__ == "__main__":
    main()
