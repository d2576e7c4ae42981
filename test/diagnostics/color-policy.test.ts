import { describe, expect, it } from "vitest";
import { useColor } from "../../compiler/diagnostics/render.js";

/**
 * The colour policy (ecosystem-notes §3.5): flag > NO_COLOR > FORCE_COLOR >
 * TTY with TERM != dumb. The environment is passed in, never read from the
 * test process.
 */
const tty = { isTTY: true };
const pipe = { isTTY: false };

describe("useColor", () => {
  it("colours a TTY and not a pipe by default", () => {
    expect(useColor(tty, undefined, { TERM: "xterm-256color" })).toBe(true);
    expect(useColor(tty, undefined, {})).toBe(true);
    expect(useColor(pipe, undefined, { TERM: "xterm-256color" })).toBe(false);
    expect(useColor({}, undefined, {})).toBe(false);
  });

  it("does not colour a dumb terminal", () => {
    expect(useColor(tty, undefined, { TERM: "dumb" })).toBe(false);
  });

  it("lets a non-empty NO_COLOR turn colour off, and ignores an empty one", () => {
    expect(useColor(tty, undefined, { NO_COLOR: "1" })).toBe(false);
    expect(useColor(tty, undefined, { NO_COLOR: "0" })).toBe(false);
    expect(useColor(tty, undefined, { NO_COLOR: "" })).toBe(true);
  });

  it("lets FORCE_COLOR colour a pipe or a dumb terminal, unless it is 0 or false", () => {
    expect(useColor(pipe, undefined, { FORCE_COLOR: "1" })).toBe(true);
    expect(useColor(pipe, undefined, { FORCE_COLOR: "" })).toBe(true);
    expect(useColor(tty, undefined, { FORCE_COLOR: "3", TERM: "dumb" })).toBe(true);
    expect(useColor(tty, undefined, { FORCE_COLOR: "0" })).toBe(false);
    expect(useColor(tty, undefined, { FORCE_COLOR: "false" })).toBe(false);
  });

  it("puts NO_COLOR above FORCE_COLOR", () => {
    expect(useColor(pipe, undefined, { NO_COLOR: "1", FORCE_COLOR: "1" })).toBe(false);
  });

  it("puts --color / --no-color above everything", () => {
    expect(useColor(pipe, true, { NO_COLOR: "1", TERM: "dumb" })).toBe(true);
    expect(useColor(tty, false, { FORCE_COLOR: "1" })).toBe(false);
  });

  it("does not colour just because CI is set", () => {
    expect(useColor(pipe, undefined, { CI: "true" })).toBe(false);
  });
});
