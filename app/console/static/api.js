// Calls to the 7.9 API with the bearer token kept in this tab's sessionStorage only.
const TOKEN = "account-console.token";

export class ApiError extends Error {
  constructor(status, message, body, headers) {
    super(message);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

let onExpired = () => {};

export function whenExpired(callback) {
  onExpired = callback;
}

export function token() {
  return sessionStorage.getItem(TOKEN);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN);
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function send(method, path, { params, body, auth = true } = {}) {
  const headers = { Accept: "application/json, application/octet-stream, */*" };
  if (auth) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path + query(params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, "network", null, new Headers());
  }
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch (error) {
      parsed = null;
    }
    const message = (parsed && parsed.message) || response.statusText;
    if (response.status === 401 && auth) {
      forgetToken();
      onExpired();
    }
    throw new ApiError(response.status, message, parsed, response.headers);
  }
  return response;
}

export async function signIn(username, password) {
  const response = await send("POST", "/account/token/generation", { body: { username, password }, auth: false });
  sessionStorage.setItem(TOKEN, await response.json());
}

export async function getJson(path, params) {
  return (await send("GET", path, { params })).json();
}

export async function putJson(path, body) {
  return (await send("PUT", path, { body })).json();
}

export async function changePassword(currentPassword, newPassword) {
  const response = await send("POST", "/account/password", {
    body: { current_password: currentPassword, new_password: newPassword },
  });
  sessionStorage.setItem(TOKEN, await response.json());
}

// Fetch a file with the token and hand it to the browser as a download.
export async function download(path, params, fallbackName) {
  const response = await send("GET", path, { params });
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return name;
}
