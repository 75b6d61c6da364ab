// Share links: the code travels deflated and base64url-encoded in the URL fragment (#code=...), which the
// browser never sends to a server. #example=<id> names a bundled example instead.

async function pipe(bytes, stream) {
  const out = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

function toBase64url(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text) {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

export async function encodeCode(code) {
  return toBase64url(await pipe(new TextEncoder().encode(code), new CompressionStream("deflate-raw")));
}

export async function decodeCode(token) {
  return new TextDecoder().decode(await pipe(fromBase64url(token), new DecompressionStream("deflate-raw")));
}

// {code} or {example} from a fragment like "#code=..." or "#example=swiss-cheese", with the real module
// (&module=) and the view shown (&view=, its position among the run's views) when the link names them.
export async function readFragment(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const extra = {};
  if (params.has("module")) extra.module = params.get("module");
  if (/^\d+$/.test(params.get("view") ?? "")) extra.view = Number(params.get("view"));
  if (params.has("code")) {
    try {
      return { code: await decodeCode(params.get("code")), ...extra };
    } catch {
      return { error: "the shared link's code is damaged (it could not be decompressed)", ...extra };
    }
  }
  return params.has("example") ? { example: params.get("example"), ...extra } : extra;
}

// {module, view}: the real module picked and the view shown, carried along when given.
export async function shareUrl(code, base = location.href, { module = null, view = null } = {}) {
  const url = new URL(base);
  const params = new URLSearchParams({ code: await encodeCode(code) });
  if (module) params.set("module", module);
  if (view != null) params.set("view", String(view));
  url.hash = params.toString();
  return url.href;
}
