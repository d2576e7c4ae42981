import { makeDiagnostic, type Diagnostic } from "../../../diagnostics/diagnostic.js";
import { NativeError } from "../../../../runtime/native/errors.js";
import type { DeviceInfo } from "../../../../runtime/native/device.js";
import { formatCudaVersion } from "../../../../runtime/native/device.js";
import type { Writable } from "../../io.js";

/** The coded diagnostic of a runtime failure; anything else is rethrown (an internal error). */
export function nativeDiagnostic(error: unknown): Diagnostic {
  if (!(error instanceof NativeError)) throw error;
  return makeDiagnostic(error.def, undefined, error.args, { ...(error.extras.notes ? { notes: [...error.extras.notes] } : {}), ...(error.extras.help ? { help: error.extras.help } : {}) });
}

/** "NVIDIA H100 80GB HBM3 (sm 9.0, 132 SMs, 79.1 GiB), driver CUDA 13.0, runtime CUDA 13.0" */
export function describeDevice(device: DeviceInfo): string {
  return `${device.name} (device ${device.ordinal}, compute ${device.computeCapability}, ${device.multiprocessors} SMs, ${(device.memoryBytes / 2 ** 30).toFixed(1)} GiB), driver CUDA ${formatCudaVersion(device.driverVersion)}, runtime CUDA ${formatCudaVersion(device.runtimeVersion)}`;
}

/**
 * A one-line status that rewrites itself on a terminal and prints nothing in
 * a pipe (design.md 5: progress on a TTY, quiet otherwise).
 */
export class Progress {
  private shown = false;

  constructor(private readonly out: Writable) {}

  get active(): boolean {
    return this.out.isTTY === true;
  }

  update(text: string): void {
    if (!this.active) return;
    this.out.write(`\r\x1b[2K${text}`);
    this.shown = true;
  }

  clear(): void {
    if (!this.shown) return;
    this.out.write("\r\x1b[2K");
    this.shown = false;
  }
}

/** `1.23e-6` style for errors, fixed for the rest. */
export function sci(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return value === 0 ? "0" : value.toExponential(2);
}
