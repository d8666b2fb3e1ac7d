// Runs everywhere: importing embedkit never loads the CUDA addon, and a host without a GPU
// gets available() === false with a reason, never an error.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceArray, cuda } from '../../lib/index';

const hasNvidiaDevice = fs.existsSync('/dev/nvidiactl') || fs.existsSync('/dev/nvidia0');

describe('cuda availability', () => {
  it('answers available() without throwing, and explains a false answer', () => {
    const available = cuda.available();
    expect(typeof available).toBe('boolean');
    if (!hasNvidiaDevice) expect(available).toBe(false);
    if (!available) {
      expect(cuda.unavailableReason()).toMatch(/\S/);
      expect(cuda.devices()).toEqual([]);
    } else {
      expect(cuda.unavailableReason()).toBe('');
      expect(cuda.devices().length).toBeGreaterThan(0);
    }
  });

  it('ops on a host without CUDA throw an Error naming the reason', () => {
    if (cuda.available()) return;
    expect(() => DeviceArray.fromHost(new Float32Array(4))).toThrow(/CUDA is not available/);
    expect(() => cuda.gather({} as never)).toThrow(/CUDA is not available/);
  });
});
