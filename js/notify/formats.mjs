// One notification as each receiver takes it: a generic webhook (JSON with
// the event and the entity's state), and the incoming-webhook messages of
// Slack (text with Block Kit blocks), Microsoft Teams (an Adaptive Card,
// as Workflows' "when a Teams webhook request is received" takes it) and
// Discord (an embed, mentions off). Texts are cut to each one's documented
// limits, and what the receiver would read as markup is escaped.
import { KINDS } from "./kinds.mjs";

/** Colours by how good the news is (Discord's embed colour, Teams' text colour). */
const BAD = new Set(["version_bad", "analysis_failed", "rollback_started", "rolled_back", "aborted", "hook_failed"]);
const GOOD = new Set(["rolled_out", "watch_ended", "promoted", "approved"]);

const cut = (text, most) => (text.length > most ? `${text.slice(0, most - 1)}…` : text);

/**
 * The request body for `format` of `notification`: `{ namespace, entity,
 * kind, event, state }` as the outbox keeps it.
 */
export function payload(format, notification) {
  switch (format) {
    case "slack":
      return slack(notification);
    case "teams":
      return teams(notification);
    case "discord":
      return discord(notification);
    default:
      return webhook(notification);
  }
}

function webhook({ namespace, entity, kind, event, state }) {
  return { namespace, entity, kind, event: { ...event, time: new Date(event.time).toISOString() }, state };
}

/** The facts every format shows, as [name, value] pairs. */
function facts({ namespace, entity, event, state }) {
  const list = [["Entity", `${namespace}/${entity}`]];
  if (event.version) list.push(["Version", event.version]);
  if (state?.lastKnownGoodVersion && state.lastKnownGoodVersion !== event.version) list.push(["Last known good", state.lastKnownGoodVersion]);
  if (event.actor) list.push(["By", event.actor]);
  list.push(["At", new Date(event.time).toISOString()]);
  return list;
}

const title = ({ namespace, entity, kind }) => `${KINDS[kind].title}: ${namespace}/${entity}`;

// Slack: "&", "<" and ">" are its markup and must be escaped
// (api.slack.com/reference/surfaces/formatting#escaping); a header block
// takes 150 characters of plain text, a section 3,000 of mrkdwn, a context
// up to 10 elements.
const slackEscape = (text) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function slack(n) {
  const head = cut(title(n), 150);
  const detail = cut(slackEscape(n.event.detail || KINDS[n.kind].title), 3000);
  return {
    text: cut(slackEscape(`${title(n)}: ${n.event.detail}`), 3000),
    blocks: [
      { type: "header", text: { type: "plain_text", text: head } },
      { type: "section", text: { type: "mrkdwn", text: detail } },
      { type: "context", elements: facts(n).slice(0, 10).map(([name, value]) => ({ type: "mrkdwn", text: cut(`*${name}:* ${slackEscape(value)}`, 3000) })) },
    ],
  };
}

// Teams: a message with one Adaptive Card attachment
// (learn.microsoft.com, "Create incoming webhooks with Workflows"); the
// card's TextBlocks wrap, and a FactSet lists the facts.
function teams(n) {
  const color = BAD.has(n.kind) ? "Attention" : GOOD.has(n.kind) ? "Good" : "Default";
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            { type: "TextBlock", text: cut(title(n), 500), weight: "Bolder", size: "Medium", color, wrap: true },
            { type: "TextBlock", text: cut(n.event.detail || KINDS[n.kind].title, 4000), wrap: true },
            { type: "FactSet", facts: facts(n).map(([name, value]) => ({ title: name, value: cut(value, 500) })) },
          ],
        },
      },
    ],
  };
}

// Discord: an embed (title 256 characters, description 4,096, up to 25
// fields of 256 and 1,024, 6,000 in all: discord.com/developers/docs,
// "Embed Limits"); `allowed_mentions` with nothing to parse, so that a
// version or message that reads "@everyone" pings no one.
function discord(n) {
  const color = BAD.has(n.kind) ? 0xd73a49 : GOOD.has(n.kind) ? 0x28a745 : 0x0366d6;
  return {
    allowed_mentions: { parse: [] },
    embeds: [
      {
        title: cut(title(n), 256),
        description: cut(n.event.detail || KINDS[n.kind].title, 3000), // with the rest, under 6,000
        color,
        timestamp: new Date(n.event.time).toISOString(),
        fields: facts(n).slice(0, 25).map(([name, value]) => ({ name: cut(name, 256), value: cut(value, 1024), inline: true })),
      },
    ],
  };
}
