// What the bench runner and the soak share.

/** Waits (up to a minute) until `url` answers /health; `logs` says where to look if not. */
export async function healthy(url, logs) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not become healthy; see ${logs}`);
}
