import { describe, expect, it } from "vitest";
import { parseSse } from "./events";

describe("parseSse", () => {
  it("splits complete events and keeps the incomplete tail", () => {
    const { events, rest } = parseSse(
      'event: test\ndata: {"type":"test","name":"a"}\n\n: keep-alive\n\nevent: snapshot\ndata: {"type":"snap',
    );
    expect(events).toEqual([{ event: "test", data: '{"type":"test","name":"a"}' }]);
    expect(rest).toBe('event: snapshot\ndata: {"type":"snap');
  });

  it("joins multi-line data and accepts CRLF", () => {
    const { events } = parseSse("data: a\r\ndata: b\r\n\r\n");
    expect(events).toEqual([{ event: "message", data: "a\nb" }]);
  });

  it("keeps an event's id", () => {
    const { events } = parseSse('event: delta\nid: dev=3,prod=9\ndata: {"type":"delta"}\n\n');
    expect(events).toEqual([{ event: "delta", id: "dev=3,prod=9", data: '{"type":"delta"}' }]);
  });
});
