// Server-Sent Events read from a fetch body (EventSource cannot send the
// token header): shared by the dashboard and its tests.

/**
 * Calls `onEvent({ id, event, data })` for each event of `body` (a
 * `ReadableStream`; `data` parsed as JSON) until the stream ends or
 * `onEvent` answers `true`; keep-alive comments are skipped.
 */
export async function readEvents(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
      const blocks = text.split("\n\n");
      text = blocks.pop();
      for (const block of blocks) {
        const fields = Object.fromEntries(
          block
            .split("\n")
            .filter((line) => line && !line.startsWith(":"))
            .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trimStart()]),
        );
        if (fields.data !== undefined && onEvent({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) }) === true) return;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
