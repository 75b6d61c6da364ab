// The playground's Embed action: the <iframe> snippet that puts the code, module and view on screen into a
// blog post as a widget (embed.html), with the height the widget takes, measured by loading it off screen.
// Entry point: embedSnippet({...}) -> {url, height, html}.

import { shareUrl } from "./share.js";

export const EMBED_WIDTH = 720;     // px: a blog's text column; the widget fits any other width itself
const MEASURE_MS = 20_000;         // a widget that says nothing by then gets the height of an example's

// The host page's few lines that let each widget set its iframe's height (the widget posts its own).
const RESIZE = `<script>
  addEventListener("message", ({ source, data }) => {  // pyfrag widgets size their own iframes
    const frame = [...document.querySelectorAll("iframe")].find((f) => f.contentWindow === source);
    if (frame && data?.type === "pyfrag:height") frame.style.height = \`\${Math.ceil(data.height)}px\`;
  });
</script>`;

// How tall the widget at `url` is at `width` px, once its first view is on screen: loaded into this page,
// invisible, without running anything (a widget starts Python only when its reader asks).
export function measureHeight(url, width = EMBED_WIDTH) {
  return new Promise((resolve) => {
    const frame = document.createElement("iframe");
    Object.assign(frame.style, { position: "fixed", left: "-10000px", top: "0", width: `${width}px`, height: "600px",
      visibility: "hidden", border: "0" });
    frame.setAttribute("aria-hidden", "true");
    frame.tabIndex = -1;
    let height = null;
    const done = () => {
      removeEventListener("message", onMessage);
      clearTimeout(timer);
      frame.remove();
      resolve(height);
    };
    const onMessage = ({ source, data }) => {
      if (source !== frame.contentWindow || data?.type !== "pyfrag:height") return;
      height = Math.ceil(data.height);
      if (data.shown) done();
    };
    const timer = setTimeout(done, MEASURE_MS);
    addEventListener("message", onMessage);
    frame.src = url;
    document.body.append(frame);
  });
}

// code: the editor's; example: the bundled example it is, unedited (its stored run shows at once), or null;
// module: the real module picked (a manifest name) or null; view: the index of the view shown; theme:
// auto|light|dark; title: what the iframe is called for screen readers.
export async function embedSnippet({ code, example, module, view, theme, title, base = location.href }) {
  const page = new URL("embed.html", base);
  page.search = new URLSearchParams({ theme }).toString();
  let url;
  if (example) {
    const params = new URLSearchParams({ example });
    if (module) params.set("module", module);
    if (view != null) params.set("view", String(view));
    page.hash = params.toString();
    url = page.href;
  } else {
    url = await shareUrl(code, page.href, { module, view });
  }
  const height = await measureHeight(url) ?? 640;
  const attr = (s) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  const html = `<iframe src="${attr(url)}" title="${attr(title)}" width="${EMBED_WIDTH}" height="${height}" ` +
    `style="width: 100%; max-width: ${EMBED_WIDTH}px; border: 1px solid #8886; border-radius: 8px"></iframe>\n${RESIZE}\n`;
  return { url, height, html };
}
