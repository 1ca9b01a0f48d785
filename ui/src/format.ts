// Pure formatting of sizes, answer statistics and source locations.
import type { Source, Stats } from "./api";

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  return `${Math.round(n / 1e6)} MB`;
}

/** "N tokens · X tok/s · first token T ms", plus how it ended when not normally. */
export function statsLine(stats: Stats | null | undefined, finish?: string | null): string {
  if (!stats) return "";
  const parts = [
    `${stats.generated_tokens} tokens`,
    `${stats.tokens_per_s.toFixed(1)} tok/s`,
    `first token ${Math.round(stats.time_to_first_token_ms)} ms`,
  ];
  if (finish && finish !== "stop") parts.push(finish === "cancelled" ? "stopped" : finish.replace("_", " "));
  return parts.join(" · ");
}

/** Where a snippet came from: file, page or lines, heading. */
export function sourceLocation(s: Source): string {
  let loc = s.path;
  if (s.page !== null) loc += `, page ${s.page}`;
  else if (s.lines) loc += s.lines[0] === s.lines[1] ? `, line ${s.lines[0]}` : `, lines ${s.lines[0]}–${s.lines[1]}`;
  if (s.heading) loc += ` — ${s.heading}`;
  return loc;
}

/** "spoken: first word 0.8 s · voice 1.2 s" for a talk-mode answer. */
export function talkLine(
  t: { speech_end_to_first_token_ms?: number | null; speech_end_to_first_audio_ms?: number | null } | null | undefined,
): string {
  if (!t) return "";
  const sec = (ms: number | null | undefined) => (ms === undefined || ms === null ? null : `${(ms / 1000).toFixed(1)} s`);
  const parts = [];
  const word = sec(t.speech_end_to_first_token_ms);
  const voice = sec(t.speech_end_to_first_audio_ms);
  if (word) parts.push(`first word ${word}`);
  if (voice) parts.push(`voice ${voice}`);
  return parts.length ? `spoken: ${parts.join(" · ")}` : "";
}
