import { SourceFile } from "./source-file.js";

/**
 * Every file a compilation has read, keyed by the path that spans carry.
 * The diagnostic renderer looks files up here to print code frames.
 */
export class SourceSet {
  private readonly files = new Map<string, SourceFile>();

  add(path: string, text: string): SourceFile {
    const file = new SourceFile(path, text);
    this.files.set(path, file);
    return file;
  }

  get(path: string): SourceFile | undefined {
    return this.files.get(path);
  }

  has(path: string): boolean {
    return this.files.has(path);
  }
}
