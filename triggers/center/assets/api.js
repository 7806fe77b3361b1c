// The JSON API as the page calls it, with the signed-in user's session cookie. URLs are relative to the page
// (/api/center), so they follow the host's route prefix.

const BASE = new URL(".", document.baseURI);

/** An API answer that was not 2xx: `status`, and the RFC 9457 problem when the body is one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `the API answered HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** The URL of an API path with its query; empty values are left out. */
export function url(path, query) {
  const target = new URL(path, BASE);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") target.searchParams.set(name, value);
  }
  return target;
}

async function call(method, path, query, body) {
  const init = {method, credentials: "same-origin", headers: {Accept: "application/json"}};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url(path, query), init);
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (response.status === 401) {
    // The session ended: sign in again and come back to the same view.
    const back = window.location.pathname + window.location.hash;
    window.location.assign(`/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(back)}`);
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const get = (path, query) => call("GET", path, query);
export const post = (path, body, query) => call("POST", path, query, body);

/** Every item of a paged listing (`key` names the answer's list), following its continuation to the last page. */
export async function getAll(path, query, key) {
  const items = [];
  let continuation = "";
  do {
    const answer = await get(path, {...query, top: 200, continuation});
    items.push(...answer[key]);
    continuation = answer.continuation || "";
  } while (continuation);
  return items;
}

/** path segments, each escaped for a URL path. */
export function path(...segments) {
  return segments.map((segment) => encodeURIComponent(segment)).join("/");
}
