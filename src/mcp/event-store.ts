/**
 * Resumable streams without a side door between sessions. The SDK's transport resumes a stream
 * from any `Last-Event-ID` its event store knows, and one store usually serves every session: an
 * event id read from one session, presented on another session's GET, replays the first
 * session's messages — and every session's standalone GET stream has the same stream id
 * (`_GET_stream`). Each session therefore sees the store through a scope of its own: stream ids
 * and event ids carry a random tag of the session and its authorization generation, and an id
 * without this session's current tag is refused before the transport sees it.
 */
import { randomBytes } from 'node:crypto';
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { SessionRecord } from './session-record.js';

/** A random tag per session record (never its id), made when its transport opens. */
const tags = new WeakMap<SessionRecord, string>();

/** The prefix of this session's ids in its current generation: events of an earlier authorization are not replayed to a later one. */
function scopeOf(record: SessionRecord): string {
  let tag = tags.get(record);
  if (tag === undefined) {
    tag = randomBytes(12).toString('hex');
    tags.set(record, tag);
  }
  return `${tag}${record.generation.toString(36)}.`;
}

/** Whether `lastEventId` was handed out by this session in its current generation. */
export function ownsEventId(record: SessionRecord, lastEventId: string): boolean {
  return lastEventId.startsWith(scopeOf(record));
}

/** The store as one session sees it: its own events only. */
export function sessionEventStore(inner: EventStore, record: SessionRecord): EventStore {
  const strip = (id: string): string | undefined => {
    const scope = scopeOf(record);
    return id.startsWith(scope) ? id.slice(scope.length) : undefined;
  };
  const scoped: EventStore = {
    async storeEvent(streamId, message) {
      return scopeOf(record) + (await inner.storeEvent(scopeOf(record) + streamId, message));
    },
    async replayEventsAfter(lastEventId, { send }) {
      const own = strip(lastEventId);
      // The guard refuses a foreign id first; this is the second lock on the same door.
      if (own === undefined) throw new Error('event id of another session');
      const streamId = await inner.replayEventsAfter(own, {
        send: (eventId, message) => send(scopeOf(record) + eventId, message),
      });
      return strip(streamId) ?? '';
    },
  };
  const lookup = inner.getStreamIdForEventId?.bind(inner);
  if (lookup) {
    scoped.getStreamIdForEventId = async function streamOfOwnEvent(eventId) {
      const own = strip(eventId);
      if (own === undefined) return undefined;
      const streamId = await lookup(own);
      return streamId === undefined ? undefined : strip(streamId);
    };
  }
  return scoped;
}
