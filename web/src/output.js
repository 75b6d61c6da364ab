// The output panel: a run's stdout and stderr written into the page without ever freezing it, however much
// Python prints. Writes are queued and applied once per animation frame, as much per frame as lays out in
// about FRAME_MS (laying out new lines is what costs, not the writes; the panel measures its own pace); when
// Python prints faster than that, only the newest CATCHUP_FRAMES frames' worth waits and the rest is dropped,
// so the end of a flood shows within a few frames. At most OUTPUT_LIMIT characters are kept, and a note
// above the panel says how much was dropped. The Python worker trims what it sends with keepTail() too, so
// a print loop costs the page one message per flush. Entry point: new OutputPanel(pre); write(text, kind,
// dropped); clear().

import { count } from "./format.js";

export const OUTPUT_LIMIT = 200_000;   // characters kept
const FRAME_MS = 8;                    // layout time a frame may spend on new output
const CATCHUP_FRAMES = 4;              // frames' worth of output that may wait
const MIN_SHARE = 2048, MAX_SHARE = 8192;    // characters a frame lays out, whatever its pace

// The last `limit` characters of `text`, starting at a line when one starts close by: {text, dropped}.
export function keepTail(text, limit = OUTPUT_LIMIT) {
  if (text.length <= limit) return { text, dropped: 0 };
  let cut = text.length - limit;
  const line = text.indexOf("\n", cut);
  if (line !== -1 && line - cut < 200) cut = line + 1;
  return { text: text.slice(cut), dropped: cut };
}

export class OutputPanel {
  constructor(el, limit = OUTPUT_LIMIT) {
    this.el = el;
    this.limit = limit;
    this.share = 4096;      // characters a frame lays out in about FRAME_MS, as last measured
    this.note = document.createElement("p");
    this.note.className = "output-truncated";
    this.note.dataset.testid = "output-truncated";
    this.note.setAttribute("role", "status");
    el.before(this.note);
    this.clear();
  }

  clear() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.pending = [];      // [{kind, text}] not in the page yet, oldest first, neighbours of one kind merged
    this.pendingChars = 0;
    this.shownChars = 0;
    this.dropShown();
    this.dropped = 0;       // characters printed but not kept (here or in the worker)
    this.note.hidden = true;
  }

  // The panel's text goes: what follows a gap must not read as its sequel.
  dropShown() {
    this.dropped += this.shownChars;
    this.el.replaceChildren();
    this.shown = [];        // lengths of the panel's blocks, oldest first
    this.shownChars = 0;
    this.open = null;       // the last block, while it ends inside a line
  }

  // dropped: characters the worker left out just before `text`
  write(text, kind = "stdout", dropped = 0) {
    if (dropped) {
      this.dropped += dropped + this.pendingChars;
      this.pending = [];
      this.pendingChars = 0;
      this.dropShown();
    }
    const last = this.pending.at(-1);
    if (last?.kind === kind) last.text += text;
    else this.pending.push({ kind, text });
    this.pendingChars += text.length;
    if (this.pendingChars > Math.min(this.limit, CATCHUP_FRAMES * this.share)) this.fallBehind();
    this.frame ||= requestAnimationFrame(() => this.flush());
  }

  // The page fell behind a flood: only the end of what waits is shown, from a clean panel.
  fallBehind() {
    this.dropShown();
    const keep = Math.min(this.limit, CATCHUP_FRAMES * this.share);
    while (this.pendingChars > keep) {
      const first = this.pending[0], excess = this.pendingChars - keep;
      const kept = first.text.length <= excess ? { text: "", dropped: first.text.length }
        : keepTail(first.text, first.text.length - excess);
      if (kept.text) first.text = kept.text;
      else this.pending.shift();
      this.pendingChars -= kept.dropped;
      this.dropped += kept.dropped;
    }
  }

  flush() {
    this.frame = 0;
    if (!this.pending.length) return;
    const t0 = performance.now();
    // This frame's share of what waits, oldest first, as one block of its own: appending a block lays out
    // that block only, where text added to one long <pre> paragraph lays out all of it again. A block that
    // ends inside a line stays open, and the next frame's text continues it.
    const open = this.open, block = open ?? document.createElement("span");
    block.className = "chunk";
    let budget = this.share, added = 0, text = "";
    while (budget > 0 && this.pending.length) {
      const first = this.pending[0];
      text = first.text;
      if (text.length > budget) {
        const cut = text.lastIndexOf("\n", budget - 1);     // after a line, when one ends in this share
        text = text.slice(0, cut > 0 ? cut + 1 : budget);
        first.text = first.text.slice(text.length);
      } else {
        this.pending.shift();
      }
      if (block.lastChild?.className === first.kind) block.lastChild.append(text);
      else {
        const span = document.createElement("span");
        span.className = first.kind;
        span.textContent = text;
        block.append(span);
      }
      added += text.length;
      budget -= text.length;
    }
    this.pendingChars -= added;
    if (open) this.shown[this.shown.length - 1] += added;
    else {
      this.el.append(block);
      this.shown.push(added);
    }
    this.shownChars += added;
    // a line that never ends still gets new blocks, so no block outgrows a frame's share
    this.open = !text.endsWith("\n") && this.shown.at(-1) < this.share ? block : null;
    // whole blocks leave from the top: trimming one would lay it out again
    let drop = 0;
    while (this.shownChars > this.limit) {
      this.shownChars -= this.shown[drop];
      this.dropped += this.shown[drop++];
    }
    if (drop) {
      this.shown.splice(0, drop);
      if (!this.shown.length) this.open = null;
      const range = document.createRange();
      range.setStartBefore(this.el.firstChild);
      range.setEndAfter(this.el.childNodes[drop - 1]);
      range.deleteContents();
    }
    if (this.dropped) {
      this.note.hidden = false;
      this.note.textContent = `output truncated: the first ${count(this.dropped)} characters are not shown, ` +
        `only the last ${count(this.shownChars + this.pendingChars)}`;
    }
    this.el.scrollTop = this.el.scrollHeight;     // lays the new block out now: part of what is measured
    if (added >= MIN_SHARE) {
      const pace = (added * FRAME_MS) / Math.max(1, performance.now() - t0);
      this.share = Math.round(Math.min(MAX_SHARE, Math.max(MIN_SHARE, pace)));
    }
    if (this.pending.length) this.frame = requestAnimationFrame(() => this.flush());
  }
}
