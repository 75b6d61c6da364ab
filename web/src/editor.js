// Code editors (CodeMirror 6): Python for the playground code, JavaScript for the audit snippet.
// Mod-Enter runs; Tab is left to the browser so keyboard users can move on from the editor.

import { EditorView, basicSetup } from "codemirror";
import { Compartment, Transaction } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { python } from "@codemirror/lang-python";
import { javascript } from "@codemirror/lang-javascript";
import { oneDark } from "@codemirror/theme-one-dark";

const theme = new Compartment();

// onChange(code): any change of the text; onEdit(): one the person made (typing, pasting, undo), not set()
export function createEditor(parent, { lang, doc, onRun, onChange, onEdit, label, dark, wrap = true }) {
  const view = new EditorView({
    parent,
    doc,
    extensions: [
      keymap.of([{ key: "Mod-Enter", preventDefault: true, run: () => { onRun?.(); return true; } }]),
      basicSetup,
      lang === "javascript" ? javascript() : python(),
      theme.of(dark ? oneDark : []),
      // long comment lines stay readable on a phone; short-lined editors skip it, which also keeps their
      // gutter exact before CodeMirror has measured them (it measures only what has been on screen)
      wrap ? EditorView.lineWrapping : [],
      EditorView.contentAttributes.of({ "aria-label": label }),
      EditorView.updateListener.of((u) => {
        if (!u.docChanged) return;
        onChange?.(u.state.doc.toString());
        if (u.transactions.some((t) => t.annotation(Transaction.userEvent))) onEdit?.();
      }),
    ],
  });
  return {
    view,
    get: () => view.state.doc.toString(),
    // a transaction, not a new state, so Ctrl+Z brings the previous code back
    set: (text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    setDark: (on) => view.dispatch({ effects: theme.reconfigure(on ? oneDark : []) }),
  };
}
