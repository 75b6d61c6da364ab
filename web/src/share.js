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

// {code} or {example} from a fragment like "#code=..." or "#example=swiss-cheese"; {} when neither.
export async function readFragment(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  if (params.has("code")) {
    try {
      return { code: await decodeCode(params.get("code")) };
    } catch {
      return { error: "the shared link's code is damaged (it could not be decompressed)" };
    }
  }
  return params.has("example") ? { example: params.get("example") } : {};
}

export async function shareUrl(code, base = location.href) {
  const url = new URL(base);
  url.hash = `code=${await encodeCode(code)}`;
  return url.href;
}
